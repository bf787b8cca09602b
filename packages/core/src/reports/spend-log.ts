import type { CyclesEvent } from '../events.ts';
import type { Unit } from '../protocol/enums.ts';
import { InvalidConfigError } from '../protocol/errors.ts';
import { scopePath } from '../protocol/scopes.ts';
import type { Action, StandardMetrics, Subject } from '../protocol/types.ts';

/** One charge: a committed hold or a direct-debit event. */
export interface SpendRecord {
  timeMs: number;
  subject: Subject;
  unit: Unit;
  amount: number;
  /** The model, when the charge was an LLM call. */
  model?: string | undefined;
}

/** Charges summed per bucket of time, tenant, scope, model and unit. */
export interface SpendBucket {
  startMs: number;
  tenant: string;
  /** The charge's full scope path, e.g. `tenant:acme/app:chat`. */
  scope: string;
  /** `''` when the charge was not an LLM call. */
  model: string;
  unit: Unit;
  amount: number;
  count: number;
}

export interface SpendLogOptions {
  /**
   * Width of a bucket: the report's finest time step.
   * @default 60000 (a minute)
   */
  bucketMs?: number;
  /**
   * Buckets older than this are dropped.
   * @default 7 days
   */
  retentionMs?: number;
  /**
   * Most buckets kept (distinct minute × tenant × scope × model × unit); past it the oldest go first.
   * @default 200000
   */
  maxBuckets?: number;
}

const DAY_MS = 86_400_000;

/** The model of a charge: its commit metrics name it, else an LLM call's action (`beginLlmCall`'s default). */
export function modelOfCharge(action: Action, metrics: StandardMetrics | undefined): string | undefined {
  return metrics?.modelVersion ?? (action.kind === 'llm.completion' ? action.name : undefined);
}

function checkOption(field: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidConfigError(`${field} must be a positive integer, got ${String(value)}`, {
      details: { field },
    });
  }
  return value;
}

/**
 * An in-process record of spend, bucketed by time, for spend reports and the dashboard. Memory is
 * bounded by `maxBuckets`, whatever the traffic; what it knows starts with the process.
 */
export class SpendLog {
  readonly bucketMs: number;
  readonly retentionMs: number;
  readonly maxBuckets: number;
  // Insertion order is time order (buckets are created as charges arrive), so the first are the oldest.
  readonly #buckets = new Map<string, SpendBucket>();

  constructor(options: SpendLogOptions = {}) {
    this.bucketMs = checkOption('bucketMs', options.bucketMs, 60_000);
    this.retentionMs = checkOption('retentionMs', options.retentionMs, 7 * DAY_MS);
    this.maxBuckets = checkOption('maxBuckets', options.maxBuckets, 200_000);
  }

  record(record: SpendRecord): void {
    if (!(record.amount > 0)) return;
    const startMs = record.timeMs - (record.timeMs % this.bucketMs);
    const tenant = record.subject.tenant ?? '';
    const scope = scopePath(record.subject);
    const model = record.model ?? '';
    const key = `${startMs}\u0000${record.unit}\u0000${scope}\u0000${model}`;
    const bucket = this.#buckets.get(key);
    if (bucket !== undefined) {
      bucket.amount += record.amount;
      bucket.count++;
      return;
    }
    this.#prune(record.timeMs);
    this.#buckets.set(key, {
      startMs,
      tenant,
      scope,
      model,
      unit: record.unit,
      amount: record.amount,
      count: 1,
    });
  }

  /** Records the charges among a Cycles instance's events (pass it as, or call it from, `onEvent`). */
  readonly onEvent = (event: CyclesEvent): void => {
    if (event.type === 'commit') {
      this.record({
        timeMs: event.timeMs,
        subject: event.subject,
        unit: event.unit,
        amount: event.charged,
        model: modelOfCharge(event.action, event.metrics),
      });
    } else if (event.type === 'settlement-replayed' && event.operation === 'commit') {
      this.record({
        timeMs: event.timeMs,
        subject: event.subject,
        unit: event.unit,
        amount: event.charged,
        model: modelOfCharge(event.action, undefined),
      });
    }
  };

  /** The buckets, oldest first. */
  buckets(): IterableIterator<SpendBucket> {
    return this.#buckets.values();
  }

  #prune(nowMs: number): void {
    const oldestKept = nowMs - this.retentionMs;
    for (const [key, bucket] of this.#buckets) {
      if (bucket.startMs >= oldestKept && this.#buckets.size < this.maxBuckets) break;
      this.#buckets.delete(key);
    }
  }
}
