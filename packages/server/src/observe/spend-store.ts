import type { SpendBucket } from '@cycles-guard/core/ledger-kit';
import type { SpendLog } from '@cycles-guard/core/reports';

/** The buckets a spend report is computed from (a `SpendLog`, or buckets read back from Redis). */
export interface SpendBuckets {
  buckets(): Iterable<SpendBucket>;
}

/** One charge, as `SpendLog.record` takes it. */
export type SpendRecord = Parameters<SpendLog['record']>[0];

/**
 * Where the server records the charges it confirms, and reads them back for the spend report and the
 * dashboard: in memory (one process), or in the ledger's Redis (every server on it sees every charge).
 */
export interface SpendStore {
  /** Records one charge; never throws and never waits (it runs after the commit was answered). */
  record(record: SpendRecord): void;
  /** The buckets that may start between `fromMs` and `toMs` (of one tenant, when given). */
  buckets(fromMs: number, toMs: number, tenant?: string): Promise<SpendBuckets>;
  /** Writes what is still queued. */
  close(): Promise<void>;
}

/** The spend of this process only: a `SpendLog`. */
export class MemorySpendStore implements SpendStore {
  constructor(readonly log: SpendLog) {}

  record(record: SpendRecord): void {
    this.log.record(record);
  }

  async buckets(): Promise<SpendBuckets> {
    return this.log;
  }

  async close(): Promise<void> {}
}

/** Buckets already read (from Redis), as a report's source. */
export function bucketList(buckets: SpendBucket[]): SpendBuckets {
  return { buckets: () => buckets.values() };
}
