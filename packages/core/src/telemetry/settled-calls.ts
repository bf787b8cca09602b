import type { CallRecord } from './call-record.ts';

/**
 * Finished calls waiting for their spans and ledger timings, written together on the next turn of the
 * event loop (one `setImmediate` per turn): a guarded call returns without waiting for the SDK, and the
 * SDK's work runs in one tight loop. At most `max` wait; past it the oldest is dropped and counted.
 * `flush` writes what waits at once (`Cycles.close` calls it).
 */
export class SettledCalls {
  readonly #write: (record: CallRecord) => void;
  readonly #afterFlush: () => void;
  readonly #max: number;
  #queue: (CallRecord | undefined)[] = [];
  /** Index of the oldest waiting record: the ones before it were dropped. */
  #head = 0;
  #scheduled = false;
  #dropped = 0;
  readonly #drain = () => this.flush();

  /**
   * `write` turns one record into its span and timings (its failures are swallowed, one record each);
   * `afterFlush` runs once the waiting records are written.
   */
  constructor(write: (record: CallRecord) => void, max: number, afterFlush: () => void) {
    this.#write = write;
    this.#max = max;
    this.#afterFlush = afterFlush;
  }

  /** Records dropped because more than `max` calls finished within one turn. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Records waiting for the next turn. */
  get waiting(): number {
    return this.#queue.length - this.#head;
  }

  push(record: CallRecord): void {
    const queue = this.#queue;
    if (queue.length - this.#head >= this.#max) this.#dropOldest();
    queue.push(record);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#drain);
    }
  }

  /** Writes every waiting record, oldest first. */
  flush(): void {
    this.#scheduled = false;
    const queue = this.#queue;
    // A write that queues more (none does today) is written in this same loop.
    for (let index = this.#head; index < queue.length; index++) {
      try {
        this.#write(queue[index] as CallRecord);
      } catch {
        // An observer must never change the outcome of a guarded call, nor lose the other records.
      }
    }
    this.#queue = [];
    this.#head = 0;
    this.#afterFlush();
  }

  #dropOldest(): void {
    this.#queue[this.#head++] = undefined;
    this.#dropped++;
    // The dropped slots are cut off once there are as many as the bound: memory stays O(max).
    if (this.#head >= this.#max) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
  }
}
