import type { LedgerStatus, OveragePolicy } from '../protocol/enums.ts';
import type { BudgetWindow, Caps, LedgerState } from '../protocol/types.ts';
import type { ScopeBalance, ScopeEventState } from './events/balance-events.ts';
import type { LedgerDefinition, LedgerTemplate } from './types.ts';
import { windowBounds } from './windows.ts';

// The mutable in-memory record of one (scope, unit) budget and its read-only views.

/** Where a template ledger came from: what it is counted against. */
export interface TemplateOrigin {
  template: LedgerTemplate;
  /** The tenant it is counted against: the scope's tenant, else the caller's, else ''. */
  tenant: string;
}

/** One budget's counters. Mutated in place by the memory ledger, always inside one synchronous step. */
export interface LedgerRow extends ScopeBalance {
  ledgerId: string;
  status: LedgerStatus;
  caps: Caps | undefined;
  /** True when `caps` has at least one member (checked once, not per reserve). */
  hasCaps: boolean;
  commitOveragePolicy: OveragePolicy | undefined;
  window: BudgetWindow | undefined;
  periodStartMs: number | undefined;
  periodEndMs: number | undefined;
  /** Set while a template-made ledger is counted against the template bounds (see template-census.ts). */
  template: TemplateOrigin | undefined;
  /** What the ledger's events remember of this scope (undefined until its first change with events on). */
  eventState: ScopeEventState | undefined;
}

/** True if a caps object sets anything. */
export function capsSet(caps: Caps | undefined): boolean {
  return caps !== undefined && Object.values(caps).some((value) => value !== undefined);
}

/** A fresh row: remaining = allocated, everything else 0. */
export function createRow(ledgerId: string, definition: LedgerDefinition, nowMs: number): LedgerRow {
  const row: LedgerRow = {
    ledgerId,
    scope: definition.scope,
    unit: definition.unit,
    allocated: definition.allocated,
    remaining: definition.allocated,
    reserved: 0,
    spent: 0,
    debt: 0,
    overdraftLimit: definition.overdraftLimit ?? 0,
    isOverLimit: false,
    status: definition.status ?? 'ACTIVE',
    caps: definition.caps,
    hasCaps: capsSet(definition.caps),
    commitOveragePolicy: definition.commitOveragePolicy,
    window: definition.window,
    periodStartMs: undefined,
    periodEndMs: undefined,
    template: undefined,
    eventState: undefined,
  };
  if (row.window !== undefined) {
    const bounds = windowBounds(row.window, nowMs);
    row.periodStartMs = bounds.startMs;
    row.periodEndMs = bounds.endMs;
  }
  return row;
}

/**
 * The over-limit flag after funding, a limit update or a window roll (Ref recomputes it after every such
 * change). Over-limit means debt beyond a configured (positive) overdraft limit: with a zero limit no
 * overdraft is permitted at all, and outstanding debt is the DEBT_OUTSTANDING state instead (spec
 * reason codes). Otherwise a zero-limit scope with debt would always be flagged, and since PROTOCOL.md
 * §2.2 checks the flag first, DEBT_OUTSTANDING could never be returned.
 */
export function overLimitAfterReconcile(row: Pick<LedgerRow, 'debt' | 'overdraftLimit'>): boolean {
  return row.overdraftLimit > 0 && row.debt > row.overdraftLimit;
}

/**
 * Starts a new window period if `nowMs` passed the current one: spent → 0, holds and debt carry over
 * (RESET_SPENT semantics), and the over-limit flag is recomputed as funding does. Cheap when not due.
 */
export function rollWindow(row: LedgerRow, nowMs: number): void {
  if (row.periodEndMs === undefined || nowMs < row.periodEndMs) return;
  const bounds = windowBounds(row.window!, nowMs);
  row.periodStartMs = bounds.startMs;
  row.periodEndMs = bounds.endMs;
  row.spent = 0;
  row.remaining = row.allocated - row.reserved - row.debt;
  row.isOverLimit = overLimitAfterReconcile(row);
}

/** A snapshot of a row for callers (never the live object). */
export function toState(row: LedgerRow): LedgerState {
  const state: LedgerState = {
    ledgerId: row.ledgerId,
    scope: row.scope,
    unit: row.unit,
    allocated: row.allocated,
    remaining: row.remaining,
    reserved: row.reserved,
    spent: row.spent,
    debt: row.debt,
    overdraftLimit: row.overdraftLimit,
    isOverLimit: row.isOverLimit,
    status: row.status,
  };
  if (row.caps !== undefined) state.caps = row.caps;
  if (row.commitOveragePolicy !== undefined) state.commitOveragePolicy = row.commitOveragePolicy;
  if (row.window !== undefined) {
    state.window = row.window;
    state.periodStartMs = row.periodStartMs!;
    state.periodEndMs = row.periodEndMs!;
  }
  return state;
}
