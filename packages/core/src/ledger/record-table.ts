/**
 * The table under the idempotency store: records by (space, key) in one open-addressing hash table with
 * linear probing. Probing reads a packed Int32Array of key hashes, so a miss (every new request) touches
 * one or two cache lines, where a Map of 100,000 string keys reads a bucket, its chain entries and each
 * entry's key string from all over the heap. Removal shifts the rest of the probe run back (no
 * tombstones), so the table never needs a clean-up pass; it is only rebuilt to grow or shrink.
 */

/** A record as the table sees it: what a probe compares on a hash match. */
export interface Keyed {
  readonly space: { readonly id: number };
  readonly key: string;
  /** keyHash(space.id, key), kept so removal and resizing never re-read the key. */
  readonly hash: number;
}

const EMPTY = 0;
const MIN_CAPACITY = 1024;

/** A key's hash within a space: always negative, so never EMPTY. */
export function keyHash(spaceId: number, key: string): number {
  let hash = Math.imul(spaceId ^ 0x2c1b3c6d, 0x297a2d39) ^ key.length;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  // murmur3's finalizer: linear probing needs neighbouring keys (`r1`, `r2`) spread over the table.
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash | 0x80000000;
}

export class RecordTable<T extends Keyed> {
  private hashes = new Int32Array(MIN_CAPACITY);
  private records: (T | undefined)[] = new Array<T | undefined>(MIN_CAPACITY).fill(undefined);
  private mask = MIN_CAPACITY - 1;
  private live = 0;

  /** The record stored for (space, key), given `hash` = keyHash(space.id, key). */
  find(space: Keyed['space'], key: string, hash: number): T | undefined {
    const hashes = this.hashes;
    const mask = this.mask;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const stored = hashes[slot]!;
      if (stored === EMPTY) return undefined;
      if (stored === hash) {
        const record = this.records[slot]!;
        if (record.key === key && record.space === space) return record;
      }
    }
  }

  /** Adds a record whose (space, key) is not in the table (the caller looked it up first). */
  insert(record: T): void {
    // At most half full, so probe runs stay short.
    if (this.live >= this.hashes.length >> 1) this.resize(this.live + 1);
    const hashes = this.hashes;
    const mask = this.mask;
    let slot = record.hash & mask;
    while (hashes[slot] !== EMPTY) slot = (slot + 1) & mask;
    hashes[slot] = record.hash;
    this.records[slot] = record;
    this.live++;
  }

  /** Removes a stored record. */
  remove(record: T): void {
    const hashes = this.hashes;
    const records = this.records;
    const mask = this.mask;
    let hole = record.hash & mask;
    while (records[hole] !== record) hole = (hole + 1) & mask;
    // Backward shift: move later members of the probe run into the hole when their home slot allows,
    // so every record stays reachable from its home slot without crossing an empty slot.
    for (let next = (hole + 1) & mask; hashes[next] !== EMPTY; next = (next + 1) & mask) {
      const home = hashes[next]! & mask;
      const stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (stays) continue;
      hashes[hole] = hashes[next]!;
      records[hole] = records[next];
      hole = next;
    }
    hashes[hole] = EMPTY;
    records[hole] = undefined;
    this.live--;
    if (this.hashes.length > MIN_CAPACITY && this.live < this.hashes.length >> 4) this.resize(this.live);
  }

  /** Re-inserts every record into a table at most 40% full for `live` records. */
  private resize(live: number): void {
    let capacity = MIN_CAPACITY;
    while (capacity < live * 2.5) capacity *= 2;
    const oldHashes = this.hashes;
    const oldRecords = this.records;
    const hashes = new Int32Array(capacity);
    const records = new Array<T | undefined>(capacity).fill(undefined);
    const mask = capacity - 1;
    for (let i = 0; i < oldHashes.length; i++) {
      const hash = oldHashes[i]!;
      if (hash === EMPTY) continue;
      let slot = hash & mask;
      while (hashes[slot] !== EMPTY) slot = (slot + 1) & mask;
      hashes[slot] = hash;
      records[slot] = oldRecords[i];
    }
    this.hashes = hashes;
    this.records = records;
    this.mask = mask;
  }
}
