// The reference model of §2.2, §2.4, §2.6 and §2.10 that the conformance suite checks every ledger
// against. Copied (trimmed) from packages/core/src/testing/settlement-model.ts because
// `@cycles-guard/core/testing` does not export it; keep the two in step.

import type { ErrorCode, OveragePolicy } from './packages.ts';

/** The counters of one budgeted scope, as the reference model tracks them. */
export interface ModelScope {
  allocated: number;
  remaining: number;
  reserved: number;
  spent: number;
  debt: number;
  overdraftLimit: number;
  isOverLimit: boolean;
}

/** What the model expects an operation to answer: a charge, or a refusal code with no change. */
export type ModelOutcome = { ok: true; charged: number } | { ok: false; code: ErrorCode };

/** §2.2 step 4 with the partial-hold extension: on success `charged` is the amount held. */
export function modelReserve(scopes: ModelScope[], estimate: number, minimum?: number): ModelOutcome {
  let hold = estimate;
  for (const scope of scopes) {
    if (scope.isOverLimit) return { ok: false, code: 'OVERDRAFT_LIMIT_EXCEEDED' };
    if (scope.debt > 0 && scope.overdraftLimit === 0) return { ok: false, code: 'DEBT_OUTSTANDING' };
    if (scope.remaining < estimate) {
      if (minimum === undefined || scope.remaining < minimum) return { ok: false, code: 'BUDGET_EXCEEDED' };
      hold = Math.min(hold, scope.remaining);
    }
  }
  for (const scope of scopes) {
    scope.reserved += hold;
    scope.remaining -= hold;
  }
  return { ok: true, charged: hold };
}

/** §2.6: the hold goes back to every scope. */
export function modelRelease(scopes: ModelScope[], held: number): void {
  for (const scope of scopes) {
    scope.reserved -= held;
    scope.remaining += held;
  }
}

/** Charges `overage` on top of a settled hold (commit) or of nothing (event), per §2.4 / §2.10. */
function applyOverage(
  scopes: ModelScope[],
  overage: number,
  policy: OveragePolicy,
  commit: { estimate: number } | undefined,
): ModelOutcome {
  const estimate = commit?.estimate ?? 0;
  const settleHold = () => {
    for (const scope of scopes) {
      scope.reserved -= estimate;
      scope.spent += estimate;
    }
  };
  if (policy === 'REJECT') {
    if (commit !== undefined || scopes.some((scope) => scope.remaining < overage)) {
      return { ok: false, code: 'BUDGET_EXCEEDED' };
    }
    for (const scope of scopes) {
      scope.remaining -= overage;
      scope.spent += overage;
    }
    return { ok: true, charged: overage };
  }
  if (policy === 'ALLOW_IF_AVAILABLE') {
    const capped = Math.min(overage, ...scopes.map((scope) => Math.max(scope.remaining, 0)));
    settleHold();
    for (const scope of scopes) {
      if (capped < overage && scope.remaining < overage) scope.isOverLimit = true;
      scope.remaining -= capped;
      scope.spent += capped;
    }
    return { ok: true, charged: estimate + capped };
  }
  let capped = overage;
  for (const scope of scopes) {
    if (scope.overdraftLimit === 0 && scope.remaining < overage)
      capped = Math.min(capped, Math.max(scope.remaining, 0));
  }
  for (const scope of scopes) {
    if (scope.overdraftLimit > 0 && scope.remaining < capped) {
      const short = capped - Math.max(scope.remaining, 0);
      if (scope.debt + short > scope.overdraftLimit) return { ok: false, code: 'OVERDRAFT_LIMIT_EXCEEDED' };
    }
  }
  settleHold();
  for (const scope of scopes) {
    const before = scope.remaining;
    if (before >= capped) {
      scope.spent += capped;
    } else {
      scope.spent += Math.max(before, 0);
      scope.debt += capped - Math.max(before, 0);
      if (scope.debt > scope.overdraftLimit) scope.isOverLimit = true;
    }
    scope.remaining -= capped;
    if (capped < overage && scope.overdraftLimit === 0 && before < overage) scope.isOverLimit = true;
  }
  return { ok: true, charged: estimate + capped };
}

/** §2.4: settles a commit of `actual` on a hold of `estimate`. */
export function modelCommit(
  scopes: ModelScope[],
  estimate: number,
  actual: number,
  policy: OveragePolicy,
): ModelOutcome {
  if (actual <= estimate) {
    for (const scope of scopes) {
      scope.reserved -= estimate;
      scope.remaining += estimate - actual;
      scope.spent += actual;
    }
    return { ok: true, charged: actual };
  }
  return applyOverage(scopes, actual - estimate, policy, { estimate });
}

/** §2.10: a direct debit of `actual` with no hold. */
export function modelEvent(scopes: ModelScope[], actual: number, policy: OveragePolicy): ModelOutcome {
  return applyOverage(scopes, actual, policy, undefined);
}
