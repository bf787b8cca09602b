/**
 * The table under the idempotency store: records by (space, key) in one open-addressing hash table with
 * linear probing. Hashes sit next to their records in one array, so a miss (every new request) touches
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
  /**
   * Slot i is `slots[2i]` (the record's hash, or EMPTY) and `slots[2i + 1]` (the record): a probe and the
   * write or compare that follows it share one cache line.
   */
  private slots: (number | T | undefined)[] = emptySlots(MIN_CAPACITY);
  private mask = MIN_CAPACITY - 1;
  private live = 0;

  /** The record stored for (space, key), given `hash` = keyHash(space.id, key). */
  find(space: Keyed['space'], key: string, hash: number): T | undefined {
    const slots = this.slots;
    const mask = this.mask;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const stored = slots[2 * slot];
      if (stored === EMPTY) return undefined;
      if (stored === hash) {
        const record = slots[2 * slot + 1] as T;
        if (record.key === key && record.space === space) return record;
      }
    }
  }

  /** Adds a record whose (space, key) is not in the table (the caller looked it up first). */
  insert(record: T): void {
    // At most half full, so probe runs stay short.
    if (this.live >= this.slots.length >> 2) this.resize(this.live + 1);
    const slots = this.slots;
    const mask = this.mask;
    let slot = record.hash & mask;
    while (slots[2 * slot] !== EMPTY) slot = (slot + 1) & mask;
    slots[2 * slot] = record.hash;
    slots[2 * slot + 1] = record;
    this.live++;
  }

  /** Removes a stored record. */
  remove(record: T): void {
    const slots = this.slots;
    const mask = this.mask;
    let hole = record.hash & mask;
    while (slots[2 * hole + 1] !== record) hole = (hole + 1) & mask;
    // Backward shift: move later members of the probe run into the hole when their home slot allows,
    // so every record stays reachable from its home slot without crossing an empty slot.
    for (let next = (hole + 1) & mask; slots[2 * next] !== EMPTY; next = (next + 1) & mask) {
      const home = (slots[2 * next] as number) & mask;
      const stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (stays) continue;
      slots[2 * hole] = slots[2 * next];
      slots[2 * hole + 1] = slots[2 * next + 1];
      hole = next;
    }
    slots[2 * hole] = EMPTY;
    slots[2 * hole + 1] = undefined;
    this.live--;
    const capacity = slots.length >> 1;
    if (capacity > MIN_CAPACITY && this.live < capacity >> 4) this.resize(this.live);
  }

  /** Re-inserts every record into a table at most 40% full for `live` records. */
  private resize(live: number): void {
    let capacity = MIN_CAPACITY;
    while (capacity < live * 2.5) capacity *= 2;
    const old = this.slots;
    const slots = emptySlots<T>(capacity);
    const mask = capacity - 1;
    for (let i = 0; i < old.length; i += 2) {
      const hash = old[i] as number;
      if (hash === EMPTY) continue;
      let slot = hash & mask;
      while (slots[2 * slot] !== EMPTY) slot = (slot + 1) & mask;
      slots[2 * slot] = hash;
      slots[2 * slot + 1] = old[i + 1];
    }
    this.slots = slots;
    this.mask = mask;
  }
}

/** `capacity` empty slots: EMPTY hashes and no records (filled, so V8 keeps the array free of holes). */
function emptySlots<T>(capacity: number): (number | T | undefined)[] {
  const slots = new Array<number | T | undefined>(2 * capacity);
  for (let i = 0; i < slots.length; i += 2) {
    slots[i] = EMPTY;
    slots[i + 1] = undefined;
  }
  return slots;
}
