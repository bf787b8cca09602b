import {
  type BalanceCause,
  deriveBalanceEvents,
  initialState,
  mayEmit,
  type ScopeBalance,
  type ScopeEventState,
} from './balance-events.ts';
import type { BurnSpend } from './burn-rate.ts';
import type { LedgerEventLog } from './event-log.ts';
import type { EventDraft, EventOrigin } from './event-types.ts';

/** Where a ledger remembers each scope's event state (a WeakMap on rows in memory, keyed on Redis). */
export interface ScopeStates<K> {
  get(key: K): ScopeEventState | undefined;
  set(key: K, state: ScopeEventState): void;
}

/** One scope's change: its balances before and after, and the key its state is remembered under. */
export interface BalanceChange<K> {
  key: K;
  before: Readonly<ScopeBalance>;
  after: Readonly<ScopeBalance>;
}

/**
 * Derives the budget events of a set of changed scopes (one operation), remembers each scope's new
 * state, and returns the drafts, in scope order. The caller publishes them with the operation's other
 * events, so one operation's events are stored together and in order. `nowMs`: the operation's clock
 * reading, when the caller has one. With nothing to report it returns a shared empty array.
 */
export function balanceChangeDrafts<K>(
  log: LedgerEventLog,
  states: ScopeStates<K>,
  changes: readonly BalanceChange<K>[],
  cause?: BalanceCause | (() => BalanceCause),
  nowMs?: number,
): readonly EventDraft[] {
  let drafts: EventDraft[] | undefined;
  for (const change of changes) {
    let state = states.get(change.key);
    const thresholds = log.thresholdsOf(change.after.scope);
    if (!mayEmit(change.before, change.after, state, thresholds)) {
      // Nothing fires: remember the counters in place (no allocation on the hot path).
      if (state === undefined) {
        state = initialState(change.after);
        states.set(change.key, state);
      } else {
        state.spent = change.after.spent;
        state.reserved = change.after.reserved;
        state.periodStartMs = change.after.periodStartMs;
      }
    } else {
      const why = typeof cause === 'function' ? cause() : cause;
      const derived = deriveBalanceEvents(change.before, change.after, state, thresholds, why);
      derived.state.burn = state?.burn;
      state = derived.state;
      states.set(change.key, state);
      drafts ??= [];
      drafts.push(...derived.drafts);
    }
    const burst = burnOf(log, change, state, nowMs);
    if (burst === undefined) continue;
    drafts ??= [];
    drafts.push(burst);
  }
  return drafts ?? NONE;
}

const NONE: readonly EventDraft[] = Object.freeze([]);

/** Reused for each spend: BurnRates.spent reads it synchronously and keeps none of it. */
const spend: BurnSpend = { scope: '', unit: 'USD_MICROCENTS', amount: 0, remaining: 0 };

/** The spend a change made, counted for the burn rate: the anomaly if it set one off. */
function burnOf<K>(
  log: LedgerEventLog,
  change: BalanceChange<K>,
  state: ScopeEventState,
  nowMs: number | undefined,
): EventDraft | undefined {
  const { before, after } = change;
  if (log.burn === undefined || !(after.spent > before.spent)) return undefined;
  spend.scope = after.scope;
  spend.unit = after.unit;
  spend.amount = after.spent - before.spent;
  spend.remaining = after.remaining;
  return log.countSpend(spend, state, nowMs);
}

/** Derives and publishes in one step. */
export function publishBalanceChanges<K>(
  log: LedgerEventLog,
  states: ScopeStates<K>,
  changes: readonly BalanceChange<K>[],
  cause: BalanceCause | (() => BalanceCause) | undefined,
  origin: EventOrigin,
): void {
  log.publish(balanceChangeDrafts(log, states, changes, cause), origin);
}
