import { IdempotencyMismatchError } from '../protocol/errors.ts';
import { Fifo } from './fifo.ts';

// Idempotency records per (tenant, endpoint, key), compared on canonical JSON (keys sorted at every
// level, undefined members dropped: close to RFC 8785 for the plain data a request carries).

/** Stable, key-sorted JSON of a plain value; `undefined` object members are omitted. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    return value === undefined ? 'null' : JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i]);
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    const member = record[key];
    if (member === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(key)}:${canonicalJson(member)}`;
    first = false;
  }
  return `${out}}`;
}

/** One stored outcome. */
export interface IdempotencyRecord<T> {
  id: string;
  payload: string;
  response: T;
  expiresAtMs: number;
}

/**
 * A bounded store of idempotency records: each expires after its retention, and the oldest are dropped
 * beyond `maxRecords`, so memory stays flat under sustained load. Insertion order approximates expiry
 * order, so pruning only looks at the front.
 */
export class IdempotencyStore {
  private readonly records = new Map<string, IdempotencyRecord<unknown>>();
  /** Records in insertion order; an entry is stale once its id maps to a newer record. */
  private readonly order = new Fifo<IdempotencyRecord<unknown>>();

  constructor(
    private readonly retentionMs: number,
    private readonly maxRecords: number,
  ) {}

  /** Number of records held (for tests and monitoring). */
  get size(): number {
    return this.records.size;
  }

  /**
   * The stored response for this key, or undefined when none (or expired). Throws 409
   * IDEMPOTENCY_MISMATCH when the key was used with a different payload.
   */
  lookup<T>(id: string, payload: string, nowMs: number): T | undefined {
    const record = this.records.get(id);
    if (record === undefined) return undefined;
    if (record.expiresAtMs <= nowMs) {
      this.records.delete(id);
      return undefined;
    }
    if (record.payload !== payload) {
      throw new IdempotencyMismatchError('Idempotency key was already used with a different payload', {
        details: { idempotency_key: id.slice(id.lastIndexOf('|') + 1) },
      });
    }
    return record.response as T;
  }

  /** Stores an outcome for at least the default retention (or `minRetentionMs` if longer). */
  store<T>(id: string, payload: string, response: T, nowMs: number, minRetentionMs = 0): void {
    const record = { id, payload, response, expiresAtMs: nowMs + Math.max(this.retentionMs, minRetentionMs) };
    this.records.set(id, record);
    this.order.push(record);
    this.prune(nowMs);
  }

  /** Drops expired records from the front and the oldest beyond the cap. */
  prune(nowMs: number): void {
    for (let record = this.order.peek(); record !== undefined; record = this.order.peek()) {
      const current = this.records.get(record.id) === record;
      if (current && this.records.size <= this.maxRecords && record.expiresAtMs > nowMs) break;
      if (current) this.records.delete(record.id);
      this.order.shift();
    }
  }
}
