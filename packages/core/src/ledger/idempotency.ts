import { Fifo } from './fifo.ts';
import { keyHash, RecordTable } from './record-table.ts';
import { idempotencyMismatch } from './refusals.ts';

// Idempotency records per (tenant, endpoint, key). Payloads are compared as fingerprints of their
// canonical form (see payloads.ts), so a record keeps a number instead of a request-sized string.

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

/**
 * What losing a record early would cost, which decides the order the count cap evicts in:
 * - `pinned`: the key of a live reservation; a lost record would hold the budget twice. Never evicted by
 *   the cap; it joins the `replaceable` queue when its reservation ends ({@link IdempotencyStore.unpin}).
 * - `replaceable`: decide, dry_run and settled reserves; a lost record is re-evaluated (no charge).
 * - `durable`: events and funding; a lost record would charge or fund twice. Evicted last.
 */
export type RecordClass = 'pinned' | 'replaceable' | 'durable';

/**
 * One tenant's records that the cap and retention may drop, oldest first per class, and its spaces. It is
 * kept by the store only while it holds a record: a tenant whose every record is gone is forgotten, so a
 * flood of tenants that were refused (or long idle) costs nothing.
 */
interface TenantRecords {
  readonly tenant: string;
  readonly spaces: Map<string, IdempotencySpace>;
  readonly replaceable: Fifo<IdempotencyRecord<unknown>>;
  readonly durable: Fifo<IdempotencyRecord<unknown>>;
  /** Queued (not pinned) records of the tenant still stored. */
  count: number;
  /** Pinned records of the tenant (live reservations' keys). */
  pinned: number;
  /** No queue front of the tenant expires before this. */
  nextExpiryMs: number;
  /** Whether the store holds it (from its first stored record until its last one is gone). */
  kept: boolean;
}

/** One (tenant, endpoint): its records are apart from every other space's, though in one table. */
export interface IdempotencySpace {
  readonly id: number;
  /** The tenant's records, which its cap counts (every endpoint of a tenant shares one). */
  readonly owner: TenantRecords;
}

/**
 * One stored outcome (a plain object, not a class: literals are the cheapest to build). Fields are
 * written only by the store, which reuses dropped records for new ones (see {@link IdempotencyStore}).
 */
export interface IdempotencyRecord<T> {
  space: IdempotencySpace;
  key: string;
  fingerprint: number;
  response: T;
  expiresAtMs: number;
  /** When it was stored (a durable record is never dropped by the cap before the replay window). */
  storedAtMs: number;
  /** A live reservation's key: exempt from expiry and the cap until unpinned. */
  pinned: boolean;
  /** False once removed from its space (a queue entry for it is then stale: skipped, never re-read). */
  stored: boolean;
  /** keyHash of its space and key (its place in the store's table). */
  hash: number;
}

/** Most dropped records kept for reuse. */
const MAX_DROPPED = 2048;
/** Idle tenants' queues are walked for expired records at most this often. */
const EXPIRY_SWEEP_MS = 1000;

/** How many records a tenant may keep, and how long a durable one is safe from that cap. */
export interface IdempotencyBounds {
  /** Queued records per tenant (pinned ones, a live reservation's key, are bounded by reservations). */
  maxPerTenant: number;
  /** A durable record (event, funding) is never dropped by the cap before this age. */
  replayWindowMs: number;
}

/**
 * A bounded store of idempotency records. Each expires after its own retention. Each tenant has its own
 * cap: beyond it, the tenant's own oldest replaceable records go first, then its durable ones past the
 * replay window, and pinned ones never; {@link roomFor} tells a caller when a durable record cannot be
 * stored without dropping one inside the window. One tenant's traffic can never drop another's records.
 * Queues are in insertion order, which approximates expiry order, so pruning only looks at their fronts.
 *
 * A record leaves its queue after it left the table, and nothing else refers to it then, so the next
 * stores reuse it (and hand its old response to `onDrop`, for the owner to reuse too). Records live for
 * up to the whole cap of stores, so each fresh one would be copied into the old generation and
 * collected there: reuse spares the garbage collector most of a reserve's retained bytes.
 */
export class IdempotencyStore {
  private readonly owners = new Map<string, TenantRecords>();
  private readonly table = new RecordTable<IdempotencyRecord<unknown>>();
  private spaceCount = 0;
  /** The last key looked up and its hash: a miss is usually followed by a store of the same key. */
  private lastKey = '';
  private lastSpace: IdempotencySpace | undefined;
  private lastHash = 0;
  private count = 0;
  /** The previous tenant's records (callers usually repeat a tenant). */
  private lastOwner: TenantRecords | undefined;
  /** No tenant's queue front expires before this (stale-early allowed), so most prunes are one compare. */
  private nextExpiryMs = Number.POSITIVE_INFINITY;

  /** Records out of their queue and table (unreferenced), for {@link store} to reuse. */
  private readonly dropped: IdempotencyRecord<unknown>[] = [];

  /**
   * @param onDrop called with the response of a dropped record when the record is reused, so its
   *   owner may reuse the response object too (nothing else refers to it by then).
   */
  constructor(
    private readonly bounds: IdempotencyBounds,
    private readonly onDrop?: (response: unknown) => void,
  ) {}

  /** Number of records held (for tests and monitoring). */
  get size(): number {
    return this.count;
  }

  /**
   * The records of one tenant's endpoint (cached, so no key string is built). A tenant with no record
   * gets a space the store does not keep until something is stored in it: looking up costs nothing.
   */
  space(tenant: string, endpoint: string): IdempotencySpace {
    let owner = this.lastOwner;
    if (owner === undefined || owner.tenant !== tenant) {
      owner = this.owners.get(tenant) ?? {
        tenant,
        spaces: new Map(),
        replaceable: new Fifo(),
        durable: new Fifo(),
        count: 0,
        pinned: 0,
        nextExpiryMs: Number.POSITIVE_INFINITY,
        kept: false,
      };
      this.lastOwner = owner;
    }
    let space = owner.spaces.get(endpoint);
    if (space === undefined) {
      space = { id: this.spaceCount++, owner };
      owner.spaces.set(endpoint, space);
    }
    return space;
  }

  /** keyHash of (space, key), reusing the previous call's when the key repeats (lookup, then store). */
  private hashOf(space: IdempotencySpace, key: string): number {
    if (key !== this.lastKey || space !== this.lastSpace) {
      this.lastKey = key;
      this.lastSpace = space;
      this.lastHash = keyHash(space.id, key);
    }
    return this.lastHash;
  }

  /**
   * The stored record for this key, or undefined when none (or expired and no longer pinned). Throws
   * 409 IDEMPOTENCY_MISMATCH when the key was used with a different payload.
   */
  lookup<T>(
    space: IdempotencySpace,
    key: string,
    print: number,
    nowMs: number,
  ): IdempotencyRecord<T> | undefined {
    const record = this.table.find(space, key, this.hashOf(space, key));
    if (record === undefined) return undefined;
    if (!record.pinned && record.expiresAtMs <= nowMs) {
      this.forget(record);
      return undefined;
    }
    if (record.fingerprint !== print) {
      throw idempotencyMismatch(key);
    }
    return record as IdempotencyRecord<T>;
  }

  /**
   * 0 when a durable record can be stored in this space without dropping any of the tenant's durable
   * records inside the replay window; else how long until one leaves the window (refuse the work, so a
   * later retry of it can never apply twice).
   */
  roomFor(space: IdempotencySpace, nowMs: number): number {
    const owner = space.owner;
    if (owner.count < this.bounds.maxPerTenant) return 0;
    this.pruneOwner(owner, nowMs, 1);
    if (owner.count < this.bounds.maxPerTenant) return 0;
    const oldest = owner.durable.peek();
    return oldest === undefined ? 1 : Math.max(1, oldest.storedAtMs + this.bounds.replayWindowMs - nowMs);
  }

  /**
   * Stores an outcome until `expiresAtMs` (pinned ones until unpinned, at least). Only call it after
   * {@link lookup} missed for this key in the same synchronous step, so no live record is replaced.
   */
  store<T>(
    space: IdempotencySpace,
    key: string,
    print: number,
    response: T,
    expiresAtMs: number,
    kind: RecordClass,
    nowMs: number,
  ): IdempotencyRecord<T> {
    const hash = this.hashOf(space, key);
    const pinned = kind === 'pinned';
    let record = this.dropped.pop() as IdempotencyRecord<T> | undefined;
    if (record === undefined) {
      record = {
        space,
        key,
        fingerprint: print,
        response,
        expiresAtMs,
        storedAtMs: nowMs,
        pinned,
        stored: true,
        hash,
      };
    } else {
      this.onDrop?.(record.response);
      record.space = space;
      record.key = key;
      record.fingerprint = print;
      record.response = response;
      record.expiresAtMs = expiresAtMs;
      record.storedAtMs = nowMs;
      record.pinned = pinned;
      record.stored = true;
      record.hash = hash;
    }
    this.table.insert(record);
    this.count++;
    const owner = space.owner;
    if (!owner.kept) {
      owner.kept = true;
      this.owners.set(owner.tenant, owner);
    }
    if (pinned) owner.pinned++;
    else {
      this.enqueue(owner, kind === 'replaceable' ? owner.replaceable : owner.durable, record);
      this.pruneOwner(owner, nowMs);
    }
    return record;
  }

  /** A live reservation ended: its reserve record becomes replaceable (kept until its own expiry). */
  unpin(record: IdempotencyRecord<unknown>, nowMs: number): void {
    if (!record.pinned) return;
    record.pinned = false;
    const owner = record.space.owner;
    owner.pinned--;
    if (!record.stored) return;
    this.enqueue(owner, owner.replaceable, record);
    this.pruneOwner(owner, nowMs);
  }

  /** Drops every tenant's expired records (walks tenants at most once a second). */
  prune(nowMs: number): void {
    if (nowMs < this.nextExpiryMs) return;
    let next = Number.POSITIVE_INFINITY;
    for (const owner of this.owners.values()) {
      this.pruneOwner(owner, nowMs);
      next = Math.min(next, owner.nextExpiryMs);
    }
    this.nextExpiryMs = Math.max(next, nowMs + EXPIRY_SWEEP_MS);
  }

  private enqueue(
    owner: TenantRecords,
    queue: Fifo<IdempotencyRecord<unknown>>,
    record: IdempotencyRecord<unknown>,
  ): void {
    if (queue.size === 0 && record.expiresAtMs < owner.nextExpiryMs) {
      owner.nextExpiryMs = record.expiresAtMs;
      if (record.expiresAtMs < this.nextExpiryMs) this.nextExpiryMs = record.expiresAtMs;
    }
    queue.push(record);
    owner.count++;
  }

  /**
   * Drops the tenant's expired records from its queue fronts, then (past its cap, less `room`) its
   * oldest replaceable records, then its durable ones past the replay window.
   */
  private pruneOwner(owner: TenantRecords, nowMs: number, room = 0): void {
    const cap = this.bounds.maxPerTenant - room;
    if (nowMs < owner.nextExpiryMs && owner.count <= cap) return;
    this.dropExpired(owner.replaceable, nowMs);
    this.dropExpired(owner.durable, nowMs);
    // Past the cap, evict a batch (1/64 of it): the oldest records sit together in memory, so one
    // sequential sweep costs far less than one cold eviction per store.
    const floor = owner.count > cap ? cap - (cap >> 6) : cap;
    while (owner.count > floor) {
      let queue = owner.replaceable;
      if (queue.size === 0) {
        queue = owner.durable;
        const oldest = queue.peek();
        if (oldest === undefined || nowMs - oldest.storedAtMs < this.bounds.replayWindowMs) break;
      }
      this.dropFront(queue);
    }
    owner.nextExpiryMs = Math.min(frontExpiry(owner.replaceable), frontExpiry(owner.durable));
    if (owner.count === 0 && owner.pinned === 0 && owner.kept) {
      // Its last record is gone: forget the tenant (a later store keeps it again).
      owner.kept = false;
      this.owners.delete(owner.tenant);
    }
  }

  private dropExpired(queue: Fifo<IdempotencyRecord<unknown>>, nowMs: number): void {
    for (let record = queue.peek(); record !== undefined; record = queue.peek()) {
      if (record.stored && record.expiresAtMs > nowMs) return;
      this.dropFront(queue);
    }
  }

  /** Removes the front of a queue (an entry a lookup already forgot is just skipped). */
  private dropFront(queue: Fifo<IdempotencyRecord<unknown>>): void {
    const record = queue.peek()!;
    queue.shift();
    this.forget(record);
    // Only later calls reuse it, so a record this very call stored and evicted stays intact for the caller.
    if (this.dropped.length < MAX_DROPPED) this.dropped.push(record);
  }

  /** Removes a record from the table (a queue entry for it goes stale and is skipped later). */
  private forget(record: IdempotencyRecord<unknown>): void {
    if (!record.stored) return;
    record.stored = false;
    this.table.remove(record);
    this.count--;
    // Only unpinned records are queued, so only they count against their tenant's cap.
    if (!record.pinned) record.space.owner.count--;
  }
}

function frontExpiry(queue: Fifo<IdempotencyRecord<unknown>>): number {
  return queue.peek()?.expiresAtMs ?? Number.POSITIVE_INFINITY;
}
