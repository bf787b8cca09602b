/** What a {@link SequenceMap} holds: anything numbered by a creation counter. */
export interface Sequenced {
  readonly sequence: number;
}

const MIN_CAPACITY = 1024;

/**
 * Items by their creation counter, in a direct-mapped array (slot = counter mod capacity) with a Map
 * for the rare item still held when a much newer one lands in its slot. The items held at once (active
 * reservations plus the retained recent ones) are mostly a recent run of counters, so adding, finding
 * and removing are one array access each, where a hash Map paid a hash-table insert, a delete and a
 * periodic rehash per reservation. The array grows so it is at most half full, and shrinks back.
 */
export class SequenceMap<T extends Sequenced> {
  private slots: (T | undefined)[] = new Array<T | undefined>(MIN_CAPACITY).fill(undefined);
  private mask = MIN_CAPACITY - 1;
  /** Items displaced from their slot by a newer one with the same slot. */
  private readonly displaced = new Map<number, T>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(sequence: number): T | undefined {
    const item = this.slots[sequence & this.mask];
    if (item !== undefined && item.sequence === sequence) return item;
    return this.displaced.size === 0 ? undefined : this.displaced.get(sequence);
  }

  /** Adds an item newer than every item held (counters only grow). */
  add(item: T): void {
    if (this.count >= this.slots.length >> 1) this.resize(this.count + 1);
    this.place(item);
    this.count++;
  }

  /** Removes a held item. */
  delete(item: T): void {
    const slot = item.sequence & this.mask;
    if (this.slots[slot] === item) this.slots[slot] = undefined;
    else this.displaced.delete(item.sequence);
    this.count--;
    if (this.slots.length > MIN_CAPACITY && this.count < this.slots.length >> 3) this.resize(this.count);
  }

  /** Every item held, oldest first. */
  values(): T[] {
    const items = [...this.displaced.values()];
    for (const item of this.slots) if (item !== undefined) items.push(item);
    return items.sort((a, b) => a.sequence - b.sequence);
  }

  /** Puts an item in its slot; an older occupant moves to `displaced`. */
  private place(item: T): void {
    const slot = item.sequence & this.mask;
    const occupant = this.slots[slot];
    if (occupant !== undefined) {
      if (occupant.sequence > item.sequence) {
        this.displaced.set(item.sequence, item);
        return;
      }
      this.displaced.set(occupant.sequence, occupant);
    }
    this.slots[slot] = item;
  }

  /** Re-places every item in an array at most 40% full for `count` items. */
  private resize(count: number): void {
    let capacity = MIN_CAPACITY;
    while (capacity < count * 2.5) capacity *= 2;
    const items = this.values();
    this.slots = new Array<T | undefined>(capacity).fill(undefined);
    this.mask = capacity - 1;
    this.displaced.clear();
    for (const item of items) this.place(item);
  }
}
