import type { CallContext } from '../../authority.ts';
import type { Decision, OveragePolicy } from '../../protocol/enums.ts';
import type { Caps, ReserveRequest } from '../../protocol/types.ts';
import type { LedgerRow } from '../ledger-row.ts';
import { type ReservationRow, reservationIdOf } from '../reservations.ts';
import { type BalanceChange, balanceChangeDrafts, type ScopeStates } from './balance-changes.ts';
import type { BalanceCause, ScopeBalance } from './balance-events.ts';
import type { LedgerEventLog } from './event-log.ts';
import type { EventDraft, EventOrigin } from './event-types.ts';
import {
  type DenialFacts,
  deniedDraft,
  expiredDraft,
  observedAllowedDraft,
  observedDeniedDraft,
  overageDraft,
} from './reservation-events.ts';

/** A refused evaluation: why, and the row that refused (none for a closed tenant). */
export interface Refusal {
  reason: string;
  row?: LedgerRow;
  requested: number;
}

const NONE: readonly EventDraft[] = Object.freeze([]);

/** The balances the derivation reads, copied from a memory ledger row or a ledger's state (Redis). */
export function balanceOfRow(row: ScopeBalance): ScopeBalance {
  const balance: ScopeBalance = {
    scope: row.scope,
    unit: row.unit,
    allocated: row.allocated,
    remaining: row.remaining,
    reserved: row.reserved,
    spent: row.spent,
    debt: row.debt,
    overdraftLimit: row.overdraftLimit,
    isOverLimit: row.isOverLimit,
  };
  if (row.periodStartMs !== undefined) balance.periodStartMs = row.periodStartMs;
  return balance;
}

/** The request an operation came from, as events record it. */
export function originOf(context: CallContext | undefined): EventOrigin {
  const origin: EventOrigin = {};
  if (context?.requestId !== undefined) origin.requestId = context.requestId;
  if (context?.traceId !== undefined) origin.traceId = context.traceId;
  if (context?.tenant !== undefined) origin.actor = { type: 'api_key' };
  return origin;
}

/** Each scope's event state lives on its row (a field read, not a WeakMap lookup), so it goes with it. */
const ROW_STATES: ScopeStates<LedgerRow> = {
  get: (row) => row.eventState,
  set: (row, state) => {
    row.eventState = state;
  },
};

/**
 * The memory ledger's side of the event pipeline: snapshots rows before a change, derives and publishes
 * after it.
 */
export class MemoryLedgerEvents {
  constructor(readonly log: LedgerEventLog) {}

  /** Reused snapshots: the ledger takes one, changes its rows and reports, all in one synchronous step. */
  private readonly scratch: ScopeBalance[] = [];

  /** The rows' balances before a change (valid until the next snapshot). */
  snapshot(rows: readonly LedgerRow[]): readonly ScopeBalance[] {
    const scratch = this.scratch;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      const copy = scratch[i];
      if (copy === undefined) {
        scratch[i] = balanceOfRow(row);
        continue;
      }
      copy.scope = row.scope;
      copy.unit = row.unit;
      copy.allocated = row.allocated;
      copy.remaining = row.remaining;
      copy.reserved = row.reserved;
      copy.spent = row.spent;
      copy.debt = row.debt;
      copy.overdraftLimit = row.overdraftLimit;
      copy.isOverLimit = row.isOverLimit;
      copy.periodStartMs = row.periodStartMs;
    }
    return scratch;
  }

  /** Budget events of `rows` changed from `before`, plus `extra` drafts, published together. */
  changed(
    before: readonly ScopeBalance[],
    rows: readonly LedgerRow[],
    context: CallContext | undefined,
    cause?: BalanceCause | (() => BalanceCause),
    extra: readonly EventDraft[] = NONE,
    nowMs?: number,
  ): void {
    // A row is its own balance view (same fields), so the common no-event case allocates nothing.
    const changes = this.changes;
    // Only when it differs: setting an array's length costs a runtime call even when nothing changes.
    if (changes.length !== rows.length) changes.length = rows.length;
    for (let i = 0; i < rows.length; i++) {
      const change = changes[i];
      if (change === undefined) changes[i] = { key: rows[i]!, before: before[i]!, after: rows[i]! };
      else {
        change.key = rows[i]!;
        change.before = before[i]!;
        change.after = rows[i]!;
      }
    }
    const drafts = balanceChangeDrafts(this.log, ROW_STATES, changes, cause, nowMs);
    if (drafts.length === 0 && extra.length === 0) return;
    this.log.publish(extra.length === 0 ? drafts : [...extra, ...drafts], originOf(context));
  }

  private readonly changes: BalanceChange<LedgerRow>[] = [];

  /** A commit's events: `reservation.commit_overage` when actual passed the estimate, and balance events. */
  committed(
    before: readonly ScopeBalance[],
    reservation: ReservationRow,
    actual: number,
    context: CallContext | undefined,
    nowMs?: number,
  ): void {
    let extra = NONE;
    if (actual > reservation.estimate) {
      const rows = reservation.rows;
      let debt = 0;
      for (let i = 0; i < rows.length; i++) debt = Math.max(debt, rows[i]!.debt - before[i]!.debt);
      const facts = this.factsOf(reservation, reservationIdOf(reservation));
      extra = [overageDraft(facts, actual, reservation.overagePolicy, debt)];
    }
    this.committing = reservation;
    this.changed(before, reservation.rows, context, this.commitCause, extra, nowMs);
    this.committing = undefined;
  }

  /** The reservation {@link committed} reports on, for {@link commitCause} (set only during the call). */
  private committing: ReservationRow | undefined;

  /**
   * The cause of a commit's balance events, made only when an event needs it (the reservation id is
   * built from its counter). One function for every commit: a closure per commit would cost a pair.
   */
  private readonly commitCause = (): BalanceCause => {
    const reservation = this.committing!;
    const policy: OveragePolicy = reservation.overagePolicy;
    return { reservationId: reservationIdOf(reservation), overagePolicy: policy };
  };

  /** Called by the reservation table after it returned an expired hold (rows already updated). */
  expired = (reservation: ReservationRow, nowMs: number): void => {
    const before = reservation.rows.map((row) => {
      const balance = balanceOfRow(row);
      balance.reserved += reservation.estimate;
      balance.remaining -= reservation.estimate;
      return balance;
    });
    const reservationId = reservationIdOf(reservation);
    const draft = expiredDraft(
      {
        ...this.factsOf(reservation, reservationId),
        createdAtMs: reservation.createdAtMs,
        expiresAtMs: reservation.expiresAtMs,
        extensions: reservation.extensions,
      },
      nowMs,
    );
    this.changed(
      before,
      reservation.rows,
      undefined,
      { reservationId },
      this.log.withRateSpikes([draft]),
      nowMs,
    );
  };

  /**
   * A refused reserve: `reservation.denied` (with its `deny_detail`), counted for the denial-rate
   * spike. An observed evaluation (the request's or the tenant's observe mode) reports
   * `reservation.observed_denied` instead.
   */
  denied(
    refusal: Refusal,
    scopePath: string,
    tenant: string | undefined,
    request: ReserveRequest,
    observed: boolean,
    context: CallContext | undefined,
  ): void {
    const facts: DenialFacts = {
      tenant,
      scope: scopePath,
      unit: request.estimate.unit,
      reasonCode: refusal.reason,
      requested: refusal.requested,
      subject: request.subject,
      action: request.action,
    };
    if (refusal.row !== undefined) {
      facts.blockedByScope = refusal.row.scope;
      facts.remaining = refusal.row.remaining;
      facts.windowKey = String(refusal.row.periodStartMs ?? 0);
    }
    if (observed) {
      this.log.publish([observedDeniedDraft(facts)], originOf(context));
      return;
    }
    this.log.publish(this.log.withRateSpikes([deniedDraft(facts)]), originOf(context));
  }

  /** An observe-mode evaluation that would have been allowed. */
  observedAllowed(
    scopePath: string,
    tenant: string | undefined,
    request: ReserveRequest,
    decision: Decision,
    estimated: number,
    caps: Caps | undefined,
    context: CallContext | undefined,
  ): void {
    const facts = {
      tenant,
      scope: scopePath,
      unit: request.estimate.unit,
      decision,
      estimated,
      subject: request.subject,
      action: request.action,
    };
    this.log.publish(
      [observedAllowedDraft(caps === undefined ? facts : { ...facts, caps })],
      originOf(context),
    );
  }

  /** A granted live reserve: counts it for the denial and expiry rates, publishes its balance events. */
  reserved(
    before: readonly ScopeBalance[],
    rows: readonly LedgerRow[],
    tenant: string | undefined,
    context: CallContext | undefined,
    nowMs?: number,
  ): void {
    this.log.countGranted(tenant, nowMs);
    this.changed(before, rows, context, undefined, NONE, nowMs);
  }

  private factsOf(reservation: ReservationRow, reservationId: string) {
    return {
      reservationId,
      tenant: reservation.tenant,
      scope: reservation.scopePath,
      unit: reservation.unit,
      estimate: reservation.estimate,
    };
  }
}
