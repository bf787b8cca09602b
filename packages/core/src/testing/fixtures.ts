import { expect } from 'vitest';
import type { ManualClock } from '../clock.ts';
import type { Ledger, LedgerDefinition } from '../ledger/types.ts';
import type { ErrorCode, LedgerStatus, OveragePolicy, Unit } from '../protocol/enums.ts';
import { CyclesError, ERROR_STATUS } from '../protocol/errors.ts';
import type { Action, Caps, LedgerState, ReserveRequest, Subject } from '../protocol/types.ts';

/** Options of the conformance suite, as passed to `describeLedgerConformance`. */
export interface ConformanceOptions {
  /** Builds a fresh, empty ledger driven by this clock. Called once per test. */
  createLedger(clock: ManualClock): Promise<Ledger> | Ledger;
  /**
   * Number of fast-check runs for each property test.
   * @default 50
   */
  propertyRuns?: number;
  /**
   * Whether the ledger observes expiry lazily: once `now > expiresAt + grace`, reads (`getReservation`,
   * `getLedger`, `getBalances`) already show the reservation EXPIRED and its hold returned, without a
   * `sweepExpired()` call. The reference server reports ACTIVE until its sweeper runs, so this is off by
   * default and the lazy-expiry test is only registered when it is on.
   * @default false
   */
  expiresLazily?: boolean;
  /**
   * Whether closing a tenant (`setTenant` with status CLOSED) also releases its live reservations and
   * revokes the tenant's API keys, as a Cycles server must (GOV CASCADE SEMANTICS Rule 1): every later
   * call made for the tenant then answers 401 UNAUTHORIZED. A bare ledger only refuses the tenant's
   * writes (409 TENANT_CLOSED) and keeps its holds, unsettleable, unless closed with `closeTenant`.
   * @default false
   */
  cascadesTenantClose?: boolean;
}

/** The default unit of every fixture. */
export const UNIT: Unit = 'TOKENS';

/** The action every fixture request uses. */
export const ACTION: Action = { kind: 'llm.completion', name: 'conformance-model' };

let keyCounter = 0;
const RUN_ID = Math.random().toString(36).slice(2, 10);

/** A fresh idempotency key, unique within the process and (by a random run id) across runs on a shared store. */
export function freshKey(prefix = 'key'): string {
  keyCounter += 1;
  return `${prefix}-${RUN_ID}-${keyCounter}`;
}

/** Turns a canonical scope path (`tenant:acme/agent:bot`) into the subject whose leaf it is. */
export function subjectOf(scopePath: string): Subject {
  const subject: Record<string, string> = {};
  for (const segment of scopePath.split('/')) {
    const [level, value] = segment.split(':');
    if (level === undefined || value === undefined) throw new Error(`bad scope fixture ${scopePath}`);
    subject[level] = value;
  }
  return subject as Subject;
}

/** A live reserve request for the subject whose leaf scope is `scopePath`. */
export function reserveRequest(
  scopePath: string,
  estimate: number,
  extra: Partial<ReserveRequest> = {},
): ReserveRequest {
  return {
    idempotencyKey: freshKey('reserve'),
    subject: subjectOf(scopePath),
    action: ACTION,
    estimate: { unit: UNIT, amount: estimate },
    ...extra,
  };
}

/** Options of `seedBudget`. */
export interface SeedOptions {
  /** @default 'TOKENS' */
  unit?: Unit;
  overdraftLimit?: number;
  status?: LedgerStatus;
  caps?: Caps;
  commitOveragePolicy?: OveragePolicy;
  window?: LedgerDefinition['window'];
}

/** Creates a ledger at `scope` with `allocated` (TOKENS unless told otherwise) and returns its state. */
export function seedBudget(
  ledger: Ledger,
  scope: string,
  allocated: number,
  options: SeedOptions = {},
): Promise<LedgerState> {
  const { unit = UNIT, ...rest } = options;
  return ledger.createLedger({ scope, unit, allocated, ...rest });
}

/** The current state of the (scope, unit) ledger; fails the test if it does not exist. */
export async function balanceOf(ledger: Ledger, scope: string, unit: Unit = UNIT): Promise<LedgerState> {
  const state = await ledger.getLedger(scope, unit);
  if (state === undefined) throw new Error(`no ledger at ${scope} in ${unit}`);
  return state;
}

/** Asserts `remaining == allocated − spent − reserved − debt` on every ledger, and returns them all. */
export async function checkIdentity(ledger: Ledger): Promise<LedgerState[]> {
  const states = await ledger.listLedgers();
  for (const state of states) {
    expect(state.remaining, `identity on ${state.scope} ${state.unit}`).toBe(
      state.allocated - state.spent - state.reserved - state.debt,
    );
  }
  return states;
}

/** The counters of every ledger, keyed `scope|unit`, for before/after comparisons. */
export async function snapshotLedgers(ledger: Ledger): Promise<Record<string, LedgerCounters>> {
  const snapshot: Record<string, LedgerCounters> = {};
  for (const state of await ledger.listLedgers()) {
    snapshot[`${state.scope}|${state.unit}`] = countersOf(state);
  }
  return snapshot;
}

/** The mutable counters of a ledger. */
export interface LedgerCounters {
  allocated: number;
  remaining: number;
  reserved: number;
  spent: number;
  debt: number;
  isOverLimit: boolean;
  status: LedgerStatus;
}

/** Picks the counters out of a ledger state. */
export function countersOf(state: LedgerState): LedgerCounters {
  return {
    allocated: state.allocated,
    remaining: state.remaining,
    reserved: state.reserved,
    spent: state.spent,
    debt: state.debt,
    isOverLimit: state.isOverLimit,
    status: state.status,
  };
}

/**
 * Awaits `operation` and asserts it fails with a `CyclesError` of `code` (and the protocol's HTTP status
 * for it). Returns the error for further checks.
 */
export async function expectCyclesError(operation: Promise<unknown>, code: ErrorCode): Promise<CyclesError> {
  let outcome: unknown;
  try {
    outcome = await operation;
  } catch (error) {
    expect(CyclesError.isInstance(error), `expected a CyclesError ${code}, got ${String(error)}`).toBe(true);
    const typed = error as CyclesError;
    expect(typed.code, typed.message).toBe(code);
    expect(typed.status).toBe(ERROR_STATUS[code]);
    return typed;
  }
  throw new Error(`expected ${code}, but the call succeeded with ${JSON.stringify(outcome)}`);
}

/** Awaits `operation` and returns the `CyclesError` it threw, or undefined if it succeeded. */
export async function cyclesErrorOf(operation: Promise<unknown>): Promise<CyclesError | undefined> {
  try {
    await operation;
    return undefined;
  } catch (error) {
    if (CyclesError.isInstance(error)) return error;
    throw error;
  }
}

/** Removes `remainingTtlMs`, the one field a replay recomputes. */
export function withoutRemainingTtl<T extends object>(body: T): Omit<T, 'remainingTtlMs'> {
  const { remainingTtlMs: _ignored, ...rest } = body as T & { remainingTtlMs?: number };
  return rest;
}
