/**
 * A first-in first-out queue on an array with a moving head. Used instead of iterating a Map from its
 * front: V8 keeps deleted Map entries as holes until a rehash, so repeated "delete the oldest" scans
 * over a Map degrade to O(n) per call.
 */
export class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  /** Number of queued items. */
  get size(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** The oldest item, or undefined when empty. */
  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  /** Removes the oldest item; compacts the array once half of it is consumed. */
  shift(): void {
    this.items[this.head] = undefined as T;
    this.head++;
    if (this.head === this.items.length) {
      // Emptied: start over, so many small queues (one per tenant) keep no consumed slots.
      this.items.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
