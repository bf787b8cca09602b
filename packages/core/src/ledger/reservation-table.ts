import { Fifo } from './fifo.ts';
import type { IdempotencyStore } from './idempotency.ts';
import type { IdSource } from './ids.ts';
import { rollWindow } from './ledger-row.ts';
import { blankReservation, type ReservationRow, resetReservation } from './reservations.ts';
import { SequenceMap } from './sequence-map.ts';

/** Most forgotten rows kept for reuse (a retention batch is 1/64 of the cap: 156 rows by default). */
const MAX_SPARE = 1024;

/**
 * Every reservation by id: the ACTIVE ones in a swap-remove array (each knows its index, so no hash-table
 * churn per reservation), expiry of holds past expiry + grace, and bounded retention of ended ones.
 *
 * Reservations are found by the counter their id was made from, not by the id string: the rows held are
 * mostly a recent run of counters, so a direct-mapped array finds one in a single access, where a
 * string-keyed Map hashed a fresh id per reserve and read cold key strings on every insert and delete.
 */
export class ReservationTable {
  private readonly bySequence = new SequenceMap<ReservationRow>();
  private readonly active: ReservationRow[] = [];
  /** Finalized or expired reservations in the order they ended (for bounded retention). */
  private readonly ended = new Fifo<ReservationRow>();
  /** Earliest expiry + grace among active reservations (may be stale-early: `expire` then recomputes it). */
  nextDeadline = Number.POSITIVE_INFINITY;
  /** When the oldest ended reservation passes its retention. */
  private endedDeadlineMs = Number.POSITIVE_INFINITY;
  /** Forgotten rows, emptied, for new reservations to reuse (see blankReservation). */
  private readonly spare: ReservationRow[] = [];

  constructor(
    private readonly ids: IdSource,
    private readonly idempotency: IdempotencyStore,
    private readonly retentionMs: number,
    private readonly maxRetained: number,
  ) {}

  get(id: string): ReservationRow | undefined {
    const sequence = this.ids.sequenceOf(id);
    const reservation = this.bySequence.get(sequence);
    // The counter only locates a candidate: the id must be exactly its id (not another instance's).
    return reservation !== undefined && this.ids.isReservationId(id, sequence) ? reservation : undefined;
  }

  /** The reservation made with this id counter, while it is kept. */
  getBySequence(sequence: number): ReservationRow | undefined {
    return this.bySequence.get(sequence);
  }

  /** Every reservation, in creation order. */
  values(): ReservationRow[] {
    return this.bySequence.values();
  }

  /** An empty row for a new reservation: a forgotten one when there is one (nothing refers to it any more). */
  blank(): ReservationRow {
    return this.spare.pop() ?? blankReservation();
  }

  /** Adds a new ACTIVE reservation (its `sequence` is the counter its id was made from). */
  add(reservation: ReservationRow): void {
    this.bySequence.add(reservation);
    reservation.activeIndex = this.active.push(reservation) - 1;
    const deadline = reservation.expiresAtMs + reservation.graceMs;
    if (deadline < this.nextDeadline) this.nextDeadline = deadline;
  }

  /** Expires every active reservation past expiry + grace, returning its hold; returns how many. */
  expire(now: number): number {
    let expired = 0;
    let next = Number.POSITIVE_INFINITY;
    // Backwards, so a swap-removal only moves an already visited reservation into the current slot.
    for (let i = this.active.length - 1; i >= 0; i--) {
      const reservation = this.active[i]!;
      const deadline = reservation.expiresAtMs + reservation.graceMs;
      if (now > deadline) {
        for (const row of reservation.rows) {
          rollWindow(row, now);
          row.reserved -= reservation.estimate;
          row.remaining += reservation.estimate;
        }
        this.end(reservation, 'EXPIRED', now);
        expired++;
      } else if (deadline < next) next = deadline;
    }
    this.nextDeadline = next;
    return expired;
  }

  /** Ends an ACTIVE reservation (its hold already settled): unpins its reserve key and retains it. */
  end(reservation: ReservationRow, status: 'COMMITTED' | 'RELEASED' | 'EXPIRED', now: number): void {
    reservation.status = status;
    this.removeActive(reservation);
    if (reservation.reserveRecord !== undefined) {
      this.idempotency.unpin(reservation.reserveRecord, now);
      reservation.reserveRecord = undefined;
    }
    reservation.endedAtMs = now;
    if (this.ended.size === 0) this.endedDeadlineMs = now + this.retentionMs;
    this.ended.push(reservation);
    this.prune(now);
  }

  /** Forgets finalized or expired reservations past their retention, or beyond the cap (oldest first). */
  prune(now: number): void {
    // `ended` is in end order, so nothing is due before the front's deadline: skip the cold read.
    if (this.ended.size <= this.maxRetained && now < this.endedDeadlineMs) return;
    // Past the cap, forget a batch (1/64 of it) in one sequential sweep rather than one cold row per end.
    const keep =
      this.ended.size > this.maxRetained ? this.maxRetained - (this.maxRetained >> 6) : this.maxRetained;
    for (let oldest = this.ended.peek(); oldest !== undefined; oldest = this.ended.peek()) {
      if (this.ended.size <= keep && oldest.endedAtMs + this.retentionMs > now) break;
      this.bySequence.delete(oldest);
      this.ended.shift();
      // Forgotten: no table, queue or record refers to the row now (responses and details are copies).
      if (this.spare.length < MAX_SPARE) {
        resetReservation(oldest);
        this.spare.push(oldest);
      }
    }
    const front = this.ended.peek();
    this.endedDeadlineMs =
      front === undefined ? Number.POSITIVE_INFINITY : front.endedAtMs + this.retentionMs;
  }

  private removeActive(reservation: ReservationRow): void {
    const last = this.active.pop()!;
    if (last !== reservation) {
      this.active[reservation.activeIndex] = last;
      last.activeIndex = reservation.activeIndex;
    }
    reservation.activeIndex = -1;
  }
}
