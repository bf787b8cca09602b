import type { Ledger } from '@cycles-guard/core';
import { type RedisLedger, whenConnected } from '@cycles-guard/redis';
import type { LedgerStoreConfig } from '../config.ts';

// The counters of the rate windows (`rate-watch.ts`): samples and hits per tenant, metric and window,
// added in batches. On Redis every server adds to the same counters, so a spike is judged on the total
// of all of them; a claim makes each spike fire once, whichever server sees it.

/** One window's counter and what to add to it. */
export interface CountDelta {
  /** Names the tenant, metric, window length and window start. */
  key: string;
  /** The tenant, for the Redis Cluster hash tag. */
  tenant: string;
  samples: number;
  hits: number;
  /** How long the counter must outlive its window's start. */
  ttlMs: number;
}

/** Counters of rate windows. */
export interface RateCounts {
  /** Adds each delta; answers each counter's totals after, in order. */
  add(deltas: readonly CountDelta[]): Promise<{ samples: number; hits: number }[]>;
  /** True the first time `key` is claimed (until `ttlMs` passes). */
  claim(key: string, tenant: string, ttlMs: number): Promise<boolean>;
}

/** In this process (the memory ledger). */
export class MemoryRateCounts implements RateCounts {
  private readonly counters = new Map<string, { samples: number; hits: number; until: number }>();
  private readonly claims = new Map<string, number>();
  private nextSweep = 0;

  constructor(private readonly now: () => number) {}

  async add(deltas: readonly CountDelta[]): Promise<{ samples: number; hits: number }[]> {
    const now = this.now();
    this.forgetEnded(now);
    return deltas.map(({ key, samples, hits, ttlMs }) => {
      const counter = this.counters.get(key) ?? { samples: 0, hits: 0, until: now + ttlMs };
      counter.samples += samples;
      counter.hits += hits;
      this.counters.set(key, counter);
      return { samples: counter.samples, hits: counter.hits };
    });
  }

  async claim(key: string, _tenant: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    if ((this.claims.get(key) ?? 0) > now) return false;
    this.claims.set(key, now + ttlMs);
    return true;
  }

  /** Drops ended counters and claims, at most once a second (not on every batch). */
  private forgetEnded(now: number): void {
    if (now < this.nextSweep) return;
    this.nextSweep = now + 1000;
    for (const [key, counter] of this.counters) if (counter.until <= now) this.counters.delete(key);
    for (const [key, until] of this.claims) if (until <= now) this.claims.delete(key);
  }
}

/** In the ledger's Redis: one hash per window (`HINCRBY` samples and hits, `PEXPIRE`), one pipeline. */
export class RedisRateCounts implements RateCounts {
  constructor(
    private readonly client: RedisLedger['client'],
    private readonly prefix: string,
  ) {}

  /** The tenant's hash tag keeps its counters on one Cluster slot. */
  private keyOf(key: string, tenant: string): string {
    return `${this.prefix}rates:{${tenant}}:${key}`;
  }

  async add(deltas: readonly CountDelta[]): Promise<{ samples: number; hits: number }[]> {
    await whenConnected(this.client);
    const batches = this.client.isCluster ? deltas.map((delta) => [delta]) : [deltas];
    const totals = await Promise.all(
      batches.map(async (batch) => {
        const pipeline = this.client.pipeline();
        for (const { key, tenant, samples, hits, ttlMs } of batch) {
          const counter = this.keyOf(key, tenant);
          pipeline.hincrby(counter, 's', samples).hincrby(counter, 'h', hits).pexpire(counter, ttlMs);
        }
        const replies = (await pipeline.exec()) ?? [];
        return batch.map((_, index) => {
          const [samplesError, samplesTotal] = replies[3 * index] ?? [];
          const [hitsError, hitsTotal] = replies[3 * index + 1] ?? [];
          if (samplesError || hitsError) throw samplesError ?? hitsError;
          return { samples: Number(samplesTotal), hits: Number(hitsTotal) };
        });
      }),
    );
    return totals.flat();
  }

  async claim(key: string, tenant: string, ttlMs: number): Promise<boolean> {
    await whenConnected(this.client);
    return (await this.client.set(this.keyOf(`fired:${key}`, tenant), '1', 'PX', ttlMs, 'NX')) === 'OK';
  }
}

/** Counters beside the ledger: in its Redis, or in this process. */
export function openRateCounts(ledger: Ledger, store: LedgerStoreConfig, now: () => number): RateCounts {
  if (store.type === 'redis' && 'client' in ledger) {
    return new RedisRateCounts((ledger as RedisLedger).client, store.keyPrefix ?? 'cycles:');
  }
  return new MemoryRateCounts(now);
}
