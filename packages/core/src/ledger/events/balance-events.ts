import type { OveragePolicy, Unit } from '../../protocol/enums.ts';
import type { BurnState } from './burn-rate.ts';
import { type EventDraft, tenantOfScope } from './event-types.ts';

// Budget events derived from one scope's balances before and after a change. Pure: both ledgers (and any
// other) run the same derivation, so they cannot disagree on when an alert fires.

/** The counters of one (scope, unit) budget the derivation reads. */
export interface ScopeBalance {
  scope: string;
  unit: Unit;
  allocated: number;
  remaining: number;
  reserved: number;
  spent: number;
  debt: number;
  overdraftLimit: number;
  isOverLimit: boolean;
  /** Start of the budget window the counters belong to (windowed ledgers only). */
  periodStartMs?: number | undefined;
}

/**
 * What the derivation remembers of a scope between changes: the window it last saw, the spend it last
 * saw (for `budget.reset_spent`) and the alerts already fired in that window, so each fires once per
 * window and direction however often utilization wobbles around a threshold.
 */
export interface ScopeEventState {
  periodStartMs: number | undefined;
  spent: number;
  reserved: number;
  /** `"0.8:rising"`, `"0.8:falling"`, `"exhausted"`. */
  fired: string[];
  /** The scope's burn-rate state, cached here (owned and bounded by the event log's `BurnRates`). */
  burn?: BurnState | undefined;
}

/** Why the balances changed (copied into the payloads that name it). */
export interface BalanceCause {
  reservationId?: string;
  overagePolicy?: OveragePolicy;
}

/** The default `budget.threshold_crossed` thresholds (GOV: 80 % and 95 %). */
export const DEFAULT_THRESHOLDS: readonly number[] = [0.8, 0.95];

/** (spent + reserved) / allocated, or undefined for a budget with nothing allocated. */
export function utilizationOf(balance: Readonly<ScopeBalance>): number | undefined {
  return balance.allocated > 0 ? (balance.spent + balance.reserved) / balance.allocated : undefined;
}

function thresholdData(balance: Readonly<ScopeBalance>, threshold: number, direction: 'rising' | 'falling') {
  return {
    scope: balance.scope,
    unit: balance.unit,
    threshold,
    utilization: utilizationOf(balance) ?? 0,
    allocated: balance.allocated,
    remaining: balance.remaining,
    spent: balance.spent,
    reserved: balance.reserved,
    direction,
  };
}

function overLimitData(balance: Readonly<ScopeBalance>) {
  return {
    scope: balance.scope,
    unit: balance.unit,
    debt: balance.debt,
    overdraft_limit: balance.overdraftLimit,
    is_over_limit: balance.isOverLimit,
    debt_utilization: balance.overdraftLimit > 0 ? balance.debt / balance.overdraftLimit : 0,
  };
}

/**
 * False when a change can yield no event at all (the common case): no window roll, no threshold
 * between the two utilizations, no exhaustion, no over-limit flip, no new debt. Lets a ledger skip the
 * derivation, and its allocations, on most operations. Never false when `deriveBalanceEvents` would
 * yield something.
 */
export function mayEmit(
  before: Readonly<ScopeBalance>,
  after: Readonly<ScopeBalance>,
  state: ScopeEventState | undefined,
  thresholds: readonly number[],
): boolean {
  if (
    state !== undefined &&
    before.periodStartMs !== undefined &&
    state.periodStartMs !== before.periodStartMs
  ) {
    return true;
  }
  if (before.isOverLimit !== after.isOverLimit || after.debt > before.debt) return true;
  if (before.remaining > 0 && after.remaining <= 0) return true;
  if (before.allocated <= 0 || after.allocated <= 0) return false;
  const was = (before.spent + before.reserved) / before.allocated;
  const now = (after.spent + after.reserved) / after.allocated;
  const low = Math.min(was, now);
  const high = Math.max(was, now);
  for (const threshold of thresholds) if (low < threshold && threshold <= high) return true;
  return false;
}

/** A fresh state for a scope first seen with `balance` (nothing fired yet). */
export function initialState(balance: Readonly<ScopeBalance>): ScopeEventState {
  return {
    periodStartMs: balance.periodStartMs,
    spent: balance.spent,
    reserved: balance.reserved,
    fired: [],
  };
}

/**
 * The budget events of one scope's change from `before` to `after`, and the state to remember. `state`
 * is what was remembered after the scope's previous change (undefined the first time). A window that
 * rolled since then yields `budget.reset_spent` (reported by the first change in the new window).
 */
export function deriveBalanceEvents(
  before: Readonly<ScopeBalance>,
  after: Readonly<ScopeBalance>,
  state: ScopeEventState | undefined,
  thresholds: readonly number[],
  cause: BalanceCause = {},
): { drafts: EventDraft[]; state: ScopeEventState } {
  const drafts: EventDraft[] = [];
  const tenant = tenantOfScope(after.scope);
  const scope = after.scope;
  const emit = (type: EventDraft['type'], data: Record<string, unknown>, correlationId?: string) => {
    const draft: EventDraft = { type, tenant, scope, data };
    if (correlationId !== undefined) draft.correlationId = correlationId;
    drafts.push(draft);
  };
  let fired = state?.fired ?? [];
  const period = before.periodStartMs;
  if (state !== undefined && period !== undefined && state.periodStartMs !== period) {
    emit('budget.reset_spent', {
      scope,
      unit: after.unit,
      operation: 'RESET_SPENT',
      previous_state: { spent: state.spent, reserved: state.reserved },
      new_state: {
        allocated: before.allocated,
        remaining: before.remaining,
        debt: before.debt,
        spent: before.spent,
        reserved: before.reserved,
      },
      spent_override_provided: false,
    });
    fired = [];
  }
  const window = `${scope}:${after.unit}:${period ?? 0}`;
  const once = (key: string): boolean => {
    if (fired.includes(key)) return false;
    fired = [...fired, key];
    return true;
  };
  const was = utilizationOf(before);
  const now = utilizationOf(after);
  if (was !== undefined && now !== undefined) {
    for (const threshold of thresholds) {
      if (was < threshold && now >= threshold && once(`${threshold}:rising`)) {
        emit(
          'budget.threshold_crossed',
          thresholdData(after, threshold, 'rising'),
          `threshold:${window}:${threshold}`,
        );
      } else if (
        was >= threshold &&
        now < threshold &&
        fired.includes(`${threshold}:rising`) &&
        once(`${threshold}:falling`)
      ) {
        emit(
          'budget.threshold_crossed',
          thresholdData(after, threshold, 'falling'),
          `threshold:${window}:${threshold}`,
        );
      }
    }
  }
  if (before.remaining > 0 && after.remaining <= 0 && once('exhausted')) {
    emit('budget.exhausted', thresholdData(after, 1, 'rising'), `exhausted:${window}`);
  }
  if (!before.isOverLimit && after.isOverLimit) emit('budget.over_limit_entered', overLimitData(after));
  if (before.isOverLimit && !after.isOverLimit) emit('budget.over_limit_exited', overLimitData(after));
  if (after.debt > before.debt) {
    const data: Record<string, unknown> = {
      scope,
      unit: after.unit,
      debt_incurred: after.debt - before.debt,
      total_debt: after.debt,
      overdraft_limit: after.overdraftLimit,
    };
    if (cause.reservationId !== undefined) data.reservation_id = cause.reservationId;
    if (cause.overagePolicy !== undefined) data.overage_policy = cause.overagePolicy;
    emit('budget.debt_incurred', data, cause.reservationId);
  }
  return {
    drafts,
    state: { periodStartMs: after.periodStartMs, spent: after.spent, reserved: after.reserved, fired },
  };
}
