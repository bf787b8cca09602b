import { Fifo } from './fifo.ts';
import type { IdempotencyStore } from './idempotency.ts';
import type { IdSource } from './ids.ts';
import { rollWindow } from './ledger-row.ts';
import {
  blankReservation,
  type ReservationRow,
  resetReservation,
  type TenantReservations,
} from './reservations.ts';
import { SequenceMap } from './sequence-map.ts';

/** Most forgotten rows kept for reuse. */
const MAX_SPARE = 1024;
/** Tenants' retention queues are walked at most this often for time-based pruning (idle tenants). */
const RETENTION_SWEEP_MS = 1000;

/** How long reservations are kept, and how many a tenant may hold (see MemoryLedgerOptions). */
export interface ReservationBounds {
  /** Finished reservations stay readable (and their settlement replayable) this long. */
  retentionMs: number;
  /** A tenant's live + finished reservations; past it, its own oldest past the replay window go. */
  maxPerTenant: number;
  /** A finished reservation is never forgotten before this, even at its tenant's bound. */
  replayWindowMs: number;
}

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
  /**
   * Finished reservations per tenant, each in end order: a tenant's traffic can only ever push its own
   * records out, never another tenant's (a shared queue let one tenant flush everyone's replays).
   */
  private readonly tenants = new Map<string, TenantReservations>();
  /** Earliest expiry + grace among active reservations (may be stale-early: `expire` then recomputes it). */
  nextDeadline = Number.POSITIVE_INFINITY;
  /** No tenant's oldest finished reservation passes its retention before this (stale-early allowed). */
  private retentionDueMs = Number.POSITIVE_INFINITY;
  /** Forgotten rows, emptied, for new reservations to reuse (see blankReservation). */
  private readonly spare: ReservationRow[] = [];

  constructor(
    private readonly ids: IdSource,
    private readonly idempotency: IdempotencyStore,
    private readonly bounds: ReservationBounds,
    /** Told of each expiry after its hold was returned (the ledger's events). */
    private readonly onExpired?: (reservation: ReservationRow, now: number) => void,
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

  /** The tenant's ACTIVE reservations (a copy: ending them while walking it is safe). */
  activeOf(tenant: string): ReservationRow[] {
    return this.active.filter((reservation) => reservation.tenant === tenant);
  }

  /** An empty row for a new reservation: a forgotten one when there is one (nothing refers to it any more). */
  blank(): ReservationRow {
    return this.spare.pop() ?? blankReservation();
  }

  /** The tenant's reservations (created on first use). */
  tenant(tenant: string | undefined): TenantReservations {
    const name = tenant ?? '';
    let entry = this.tenants.get(name);
    if (entry === undefined) {
      entry = { ended: new Fifo(), held: 0 };
      this.tenants.set(name, entry);
    }
    return entry;
  }

  /**
   * 0 when the tenant may open one more reservation, else how long until it may: at its bound, its
   * oldest finished reservations past the replay window are forgotten first; when none is, the tenant's
   * own new work waits (nothing of any other tenant's is touched).
   */
  waitForRoom(owner: TenantReservations, bound: number | undefined, now: number): number {
    const limit = bound ?? this.bounds.maxPerTenant;
    if (owner.held < limit) return 0;
    this.pruneTenant(owner, now, owner.held + 1 - limit);
    if (owner.held < limit) return 0;
    const oldest = owner.ended.peek();
    // Every reservation it holds is live: room comes when one ends (a hold lasts at most its TTL).
    if (oldest === undefined) return 1000;
    return Math.max(1, oldest.endedAtMs + this.bounds.replayWindowMs - now);
  }

  /** Adds a new ACTIVE reservation (its `sequence` is the counter its id was made from). */
  add(reservation: ReservationRow, owner: TenantReservations): void {
    this.bySequence.add(reservation);
    reservation.owner = owner;
    owner.held++;
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
        // Before end(): a reservation past a zero retention is recycled inside it.
        this.onExpired?.(reservation, now);
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
    const owner = reservation.owner!;
    if (owner.ended.size === 0) {
      this.retentionDueMs = Math.min(this.retentionDueMs, now + this.bounds.retentionMs);
    }
    owner.ended.push(reservation);
    this.pruneTenant(owner, now);
  }

  /** Forgets every tenant's finished reservations past their retention (walks tenants at most 1/s). */
  prune(now: number): void {
    if (now < this.retentionDueMs) return;
    let due = Number.POSITIVE_INFINITY;
    for (const [name, owner] of this.tenants) {
      this.pruneTenant(owner, now);
      const oldest = owner.ended.peek();
      if (oldest !== undefined) due = Math.min(due, oldest.endedAtMs + this.bounds.retentionMs);
      else if (owner.held === 0) this.tenants.delete(name);
    }
    this.retentionDueMs = Math.max(due, now + RETENTION_SWEEP_MS);
  }

  /**
   * Forgets the tenant's oldest finished reservations past retention, and (oldest first) up to `excess`
   * more of them that are past the replay window.
   */
  private pruneTenant(owner: TenantReservations, now: number, excess = 0): void {
    const { retentionMs, replayWindowMs } = this.bounds;
    for (let oldest = owner.ended.peek(); oldest !== undefined; oldest = owner.ended.peek()) {
      const age = now - oldest.endedAtMs;
      if (age < retentionMs && (excess <= 0 || age < replayWindowMs)) break;
      excess--;
      this.bySequence.delete(oldest);
      owner.ended.shift();
      owner.held--;
      // Forgotten: no table, queue or record refers to the row now (responses and details are copies).
      if (this.spare.length < MAX_SPARE) {
        resetReservation(oldest);
        this.spare.push(oldest);
      }
    }
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
