import type { ReasonCode } from '../protocol/enums.ts';
import type { BudgetExceededError, CyclesError } from '../protocol/errors.ts';
import type { LedgerRow } from './ledger-row.ts';
import {
  budgetClosed,
  budgetExceeded,
  budgetFrozen,
  debtOutstanding,
  overdraftLimitExceeded,
} from './refusals.ts';

// The reserve gates of PROTOCOL.md §2.2 step 4, shared by live reserve, dry_run and decide.

/** Either the amount that can be held, or the first failing scope and why. */
export type Evaluation =
  | { readonly ok: true; readonly hold: number; readonly partial: boolean }
  | { readonly ok: false; readonly reason: ReasonCode; readonly row: LedgerRow; readonly requested: number };

/**
 * Walks the budgeted rows in canonical order; the first failure wins, checking per scope: FROZEN,
 * CLOSED, over-limit, debt with a zero limit (Ref's rule; Spec says any debt), then remaining < estimate.
 * With `minimum` (partial-hold extension) a scope passes if it covers the minimum, and the hold is the
 * smallest remaining over the scopes, never above the estimate.
 */
export function evaluateRows(rows: readonly LedgerRow[], estimate: number, minimum?: number): Evaluation {
  let hold = estimate;
  for (const row of rows) {
    if (row.status === 'FROZEN') return { ok: false, reason: 'BUDGET_FROZEN', row, requested: estimate };
    if (row.status === 'CLOSED') return { ok: false, reason: 'BUDGET_CLOSED', row, requested: estimate };
    if (row.isOverLimit) return { ok: false, reason: 'OVERDRAFT_LIMIT_EXCEEDED', row, requested: estimate };
    if (row.debt > 0 && row.overdraftLimit === 0) {
      return { ok: false, reason: 'DEBT_OUTSTANDING', row, requested: estimate };
    }
    if (row.remaining < estimate) {
      if (minimum === undefined || row.remaining < minimum) {
        return { ok: false, reason: 'BUDGET_EXCEEDED', row, requested: minimum ?? estimate };
      }
      if (row.remaining < hold) hold = row.remaining;
    }
  }
  return hold < estimate ? { ok: true, hold, partial: true } : fullHold(estimate);
}

// Module-level, safe: one frozen object, handed out only for an identical estimate.
/** The last full-hold outcome: callers only read an evaluation, and most reserves repeat an estimate. */
let lastFullHold: Evaluation = Object.freeze({ ok: true, hold: 0, partial: false });

/** `{ ok: true, hold: estimate, partial: false }`, shared while the estimate repeats (no allocation). */
function fullHold(estimate: number): Evaluation {
  const last = lastFullHold;
  if (last.ok && Object.is(last.hold, estimate)) return last;
  lastFullHold = Object.freeze({ ok: true, hold: estimate, partial: false });
  return lastFullHold;
}

/** Milliseconds until the blocking ledger's window resets, when it has one. */
export function retryAfter(row: LedgerRow, nowMs: number): number | undefined {
  return row.periodEndMs === undefined ? undefined : Math.max(0, row.periodEndMs - nowMs);
}

/** The 409 a live reserve throws for a failed evaluation. */
export function evaluationError(failure: Extract<Evaluation, { ok: false }>, nowMs: number): CyclesError {
  const { row, reason } = failure;
  const scope = row.scope;
  switch (reason) {
    case 'BUDGET_FROZEN':
      return budgetFrozen(scope);
    case 'BUDGET_CLOSED':
      return budgetClosed(scope);
    case 'OVERDRAFT_LIMIT_EXCEEDED':
      return overdraftLimitExceeded(scope, row.debt, row.overdraftLimit);
    case 'DEBT_OUTSTANDING':
      return debtOutstanding(scope, row.debt);
    default:
      return exceeded(row, failure.requested, nowMs);
  }
}

/** 409 BUDGET_EXCEEDED for a scope, with `retryAfterMs` when the ledger is windowed. */
export function exceeded(row: LedgerRow, requested: number, nowMs: number): BudgetExceededError {
  return budgetExceeded(row.scope, row.remaining, requested, retryAfter(row, nowMs));
}
