import type { OveragePolicy } from '../protocol/enums.ts';

// The overage arithmetic of PROTOCOL.md §2.4 (commit) and §2.10 (event) as pure functions. Ref's
// shortfall form is used for the overdraft pre-check (Δ from Spec's `debt + delta`), because it keeps
// `remaining == allocated − spent − reserved − debt` exact.

/** What the overage math reads of one budgeted scope. `remaining` is already net of the hold. */
export interface ScopeFunds {
  remaining: number;
  debt: number;
  overdraftLimit: number;
}

/** Per-scope writes of an overage plan; `remaining -= extra` applies to every scope. */
export interface ScopeOverage {
  spent: number;
  debt: number;
  /** Set `isOverLimit` on this scope. */
  flag: boolean;
}

/** The result of planning an overrun: either writes to apply, or the error and the scope that caused it. */
export type OveragePlan =
  | { ok: true; extra: number; scopes: ScopeOverage[] }
  | { ok: false; code: 'BUDGET_EXCEEDED' | 'OVERDRAFT_LIMIT_EXCEEDED'; index: number };

/**
 * Plans how much of an overrun (`overrun` = Δ for a commit, X for an event) is charged beyond what was
 * already held, on every budgeted scope at once. No writes: the caller applies the plan.
 * REJECT fails if any scope's remaining is below the overrun (the event rule; a commit with Δ > 0 under
 * REJECT is refused before this is called).
 */
export function planOverage(
  scopes: readonly ScopeFunds[],
  overrun: number,
  policy: OveragePolicy,
): OveragePlan {
  const count = scopes.length;
  if (policy === 'REJECT') {
    for (let i = 0; i < count; i++) {
      if (scopes[i]!.remaining < overrun) return { ok: false, code: 'BUDGET_EXCEEDED', index: i };
    }
    return { ok: true, extra: overrun, scopes: scopes.map(() => ({ spent: overrun, debt: 0, flag: false })) };
  }
  if (policy === 'ALLOW_IF_AVAILABLE') {
    let extra = overrun;
    for (const scope of scopes) extra = Math.min(extra, Math.max(scope.remaining, 0));
    const capped = extra < overrun;
    return {
      ok: true,
      extra,
      scopes: scopes.map((scope) => ({ spent: extra, debt: 0, flag: capped && scope.remaining < overrun })),
    };
  }
  // ALLOW_WITH_OVERDRAFT: zero-limit scopes cap the charge; limited scopes book the shortfall as debt.
  let extra = overrun;
  for (const scope of scopes) {
    if (scope.overdraftLimit === 0 && scope.remaining < overrun)
      extra = Math.min(extra, Math.max(scope.remaining, 0));
  }
  for (let i = 0; i < count; i++) {
    const scope = scopes[i]!;
    if (scope.overdraftLimit > 0 && scope.remaining < extra) {
      const shortfall = extra - Math.max(scope.remaining, 0);
      if (scope.debt + shortfall > scope.overdraftLimit)
        return { ok: false, code: 'OVERDRAFT_LIMIT_EXCEEDED', index: i };
    }
  }
  const capped = extra < overrun;
  return {
    ok: true,
    extra,
    scopes: scopes.map((scope) => {
      if (scope.remaining >= extra) {
        return {
          spent: extra,
          debt: 0,
          flag: capped && scope.overdraftLimit === 0 && scope.remaining < overrun,
        };
      }
      const covered = Math.max(scope.remaining, 0);
      const debt = extra - covered;
      const overLimit = scope.debt + debt > scope.overdraftLimit;
      const zeroLimitCapped = capped && scope.overdraftLimit === 0 && scope.remaining < overrun;
      return { spent: covered, debt, flag: overLimit || zeroLimitCapped };
    }),
  };
}

/** The totals of a commit: what is charged and what goes back. */
export interface CommitTotals {
  charged: number;
  /** estimate − charged, only when actual < estimate. */
  released?: number;
}

/** Charged/released of a commit whose actual fits the hold (Δ ≤ 0): charged = A, released = E − A. */
export function underspend(estimate: number, actual: number): CommitTotals {
  return actual < estimate ? { charged: actual, released: estimate - actual } : { charged: actual };
}
