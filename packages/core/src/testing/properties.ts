import fc, { type Arbitrary, type Scheduler } from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ManualClock } from '../clock.ts';
import type { Ledger } from '../ledger/types.ts';
import { type ErrorCode, OVERAGE_POLICIES, type OveragePolicy } from '../protocol/enums.ts';
import { CyclesError } from '../protocol/errors.ts';
import type {
  CommitRequest,
  EventRequest,
  LedgerState,
  ReleaseRequest,
  ReserveRequest,
} from '../protocol/types.ts';
import {
  ACTION,
  type ConformanceOptions,
  checkIdentity,
  countersOf,
  freshKey,
  snapshotLedgers,
  UNIT,
  withoutRemainingTtl,
} from './fixtures.ts';
import { harnessFactory } from './harness.ts';
import { type Operation, operationArbitrary, scopeAt, subjectFor } from './operations.ts';

/**
 * Past every expiry + grace a scenario can produce (≤ 16×5 advances of 15 s, TTL 20 s, 10 extensions of
 * 10 s, grace 5 s), and soon enough that finalized rows are still readable (ledgers keep them ≥ 1 h).
 */
const FORCE_EXPIRE_MS = 1_800_000;

/** Codes a random operation may legitimately be refused with. Anything else fails the property. */
const EXPECTED_REFUSALS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'BUDGET_EXCEEDED',
  'OVERDRAFT_LIMIT_EXCEEDED',
  'DEBT_OUTSTANDING',
  'RESERVATION_FINALIZED',
  'RESERVATION_EXPIRED',
  'MAX_EXTENSIONS_EXCEEDED',
]);

interface Budget {
  allocated: number;
  overdraftLimit: number;
}

interface Scenario {
  /** Budgets for each level of the path; `null` = unbudgeted level. At least one is set. */
  budgets: Array<Budget | null>;
  policy: OveragePolicy;
  /** Operations in each batch run concurrently; batches run one after another. */
  batches: Operation[][];
}

/** The scenario fixes one overage policy, so per-operation policies and minimums are ignored here. */
const operationArbitraryForScenario = operationArbitrary({
  estimateMax: 600,
  eventActualMax: 400,
  advanceMaxMs: 15_000,
  eventWeight: 1,
});

const budgetArbitrary: Arbitrary<Budget> = fc.record({
  allocated: fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 800, max: 3000 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 800 }) },
  ),
  overdraftLimit: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 400 })),
});

const scenarioArbitrary: Arbitrary<Scenario> = fc
  .record({
    budgets: fc.array(fc.option(budgetArbitrary, { nil: null }), { minLength: 1, maxLength: 6 }),
    leaf: budgetArbitrary,
    policy: fc.constantFrom(...OVERAGE_POLICIES),
    batches: fc.array(fc.array(operationArbitraryForScenario, { minLength: 1, maxLength: 5 }), {
      minLength: 4,
      maxLength: 16,
    }),
  })
  .map(({ budgets, leaf, policy, batches }) => ({
    budgets: budgets.some((budget) => budget !== null) ? budgets : [...budgets.slice(0, -1), leaf],
    policy,
    batches,
  }));

interface Hold {
  id: string;
  estimate: number;
  gracePeriodMs: number;
  /** Expiry as first reserved, and the latest one an extension reported. */
  initialExpiresAtMs: number;
  latestExpiresAtMs: number;
  committed: number;
  released: number;
  /** Each commit/release/extend attempt: the clock before and after it, and its refusal code if any. */
  attempts: Array<{ kind: 'commit' | 'release' | 'extend'; before: number; after: number; code?: ErrorCode }>;
}

interface Replayable {
  replay: () => Promise<object>;
  body: object;
}

/** What the run observed, for the invariants checked afterwards. */
interface RunRecord {
  holds: Hold[];
  replayables: Replayable[];
  charged: number;
  commits: Array<{ estimate: number; actual: number; charged: number }>;
  events: Array<{ actual: number; charged: number }>;
}

function refusalOf(error: unknown): ErrorCode {
  if (CyclesError.isInstance(error) && EXPECTED_REFUSALS.has(error.code)) return error.code;
  throw error;
}

async function executeOperation(
  ledger: Ledger,
  clock: ManualClock,
  scenario: Scenario,
  record: RunRecord,
  operation: Operation,
): Promise<void> {
  const subject = subjectFor(scenario.budgets.length);
  const target = (index: number) =>
    record.holds.length === 0 ? undefined : record.holds[index % record.holds.length];
  const attempted = 'target' in operation ? target(operation.target) : undefined;
  const before = clock.now();
  const attempt = (code?: ErrorCode) => {
    if (attempted === undefined || !('target' in operation)) return;
    attempted.attempts.push({ kind: operation.kind, before, after: clock.now(), code });
  };
  try {
    switch (operation.kind) {
      case 'reserve': {
        const request: ReserveRequest = {
          idempotencyKey: freshKey('prop-reserve'),
          subject,
          action: ACTION,
          estimate: { unit: UNIT, amount: operation.estimate },
          ttlMs: operation.ttlMs,
          gracePeriodMs: operation.gracePeriodMs,
          overagePolicy: scenario.policy,
        };
        const response = await ledger.reserve(request);
        expect(response.decision).not.toBe('DENY');
        expect(response.reserved?.amount ?? operation.estimate).toBe(operation.estimate);
        for (const balance of response.balances ?? []) {
          expect(balance.remaining.amount + (balance.debt?.amount ?? 0)).toBeGreaterThanOrEqual(0);
        }
        record.holds.push({
          id: response.reservationId!,
          estimate: operation.estimate,
          gracePeriodMs: operation.gracePeriodMs,
          initialExpiresAtMs: response.expiresAtMs!,
          latestExpiresAtMs: response.expiresAtMs!,
          committed: 0,
          released: 0,
          attempts: [],
        });
        record.replayables.push({ replay: () => ledger.reserve({ ...request }), body: response });
        return;
      }
      case 'commit': {
        const hold = target(operation.target);
        if (hold === undefined) return;
        const request: CommitRequest = {
          idempotencyKey: freshKey('prop-commit'),
          actual: { unit: UNIT, amount: operation.actual },
        };
        const response = await ledger.commit(hold.id, request);
        attempt();
        hold.committed += 1;
        record.charged += response.charged.amount;
        record.commits.push({
          estimate: hold.estimate,
          actual: operation.actual,
          charged: response.charged.amount,
        });
        record.replayables.push({ replay: () => ledger.commit(hold.id, { ...request }), body: response });
        return;
      }
      case 'release': {
        const hold = target(operation.target);
        if (hold === undefined) return;
        const request: ReleaseRequest = { idempotencyKey: freshKey('prop-release') };
        const response = await ledger.release(hold.id, request);
        attempt();
        expect(response.released.amount).toBe(hold.estimate);
        hold.released += 1;
        record.replayables.push({ replay: () => ledger.release(hold.id, { ...request }), body: response });
        return;
      }
      case 'extend': {
        const hold = target(operation.target);
        if (hold === undefined) return;
        const response = await ledger.extend(hold.id, {
          idempotencyKey: freshKey('prop-extend'),
          extendByMs: operation.extendByMs,
        });
        attempt();
        hold.latestExpiresAtMs = Math.max(hold.latestExpiresAtMs, response.expiresAtMs);
        return;
      }
      case 'event': {
        const request: EventRequest = {
          idempotencyKey: freshKey('prop-event'),
          subject,
          action: ACTION,
          actual: { unit: UNIT, amount: operation.actual },
          overagePolicy: scenario.policy,
        };
        const response = await ledger.createEvent(request);
        const charged = response.charged?.amount ?? operation.actual;
        record.charged += charged;
        record.events.push({ actual: operation.actual, charged });
        record.replayables.push({ replay: () => ledger.createEvent({ ...request }), body: response });
        return;
      }
      case 'advance': {
        clock.advance(operation.ms);
        await ledger.sweepExpired();
        return;
      }
    }
  } catch (error) {
    attempt(refusalOf(error));
  }
}

/** The status of every hold, EXPIRED when the ledger answers 410. */
async function statusesOf(ledger: Ledger, holds: Hold[]): Promise<string[]> {
  return Promise.all(
    holds.map(async (hold) => {
      try {
        return (await ledger.getReservation(hold.id)).status;
      } catch (error) {
        if (CyclesError.isInstance(error) && error.code === 'RESERVATION_EXPIRED') return 'EXPIRED';
        throw error;
      }
    }),
  );
}

/** §6.5 and §6.11: time-based outcomes agree with the server clock; FINALIZED only after a finalization. */
function checkTiming(hold: Hold): void {
  const finalized = hold.committed + hold.released === 1;
  for (const { kind, before, after, code } of hold.attempts) {
    const deadline = kind === 'extend' ? hold.latestExpiresAtMs : hold.latestExpiresAtMs + hold.gracePeriodMs;
    const earliest =
      kind === 'extend' ? hold.initialExpiresAtMs : hold.initialExpiresAtMs + hold.gracePeriodMs;
    if (code === undefined) {
      expect(before, `${kind} of ${hold.id} succeeded past its deadline`).toBeLessThanOrEqual(deadline);
    } else if (code === 'RESERVATION_EXPIRED') {
      expect(after, `${kind} of ${hold.id} got 410 before its deadline`).toBeGreaterThan(earliest);
    } else if (code === 'RESERVATION_FINALIZED') {
      expect(finalized, `${kind} of ${hold.id} got FINALIZED but it was never finalized`).toBe(true);
    }
  }
}

/** Invariants that hold at every quiescent point (§6: 1, 2, 3, 4, 8). */
async function checkQuiescent(ledger: Ledger, scenario: Scenario, record: RunRecord): Promise<LedgerState[]> {
  const statuses = await statusesOf(ledger, record.holds);
  const states = await checkIdentity(ledger);
  const activeHeld = record.holds.reduce(
    (sum, hold, index) => (statuses[index] === 'ACTIVE' ? sum + hold.estimate : sum),
    0,
  );
  const path: LedgerState[] = [];
  scenario.budgets.forEach((budget, index) => {
    if (budget === null) return;
    const state = states.find(
      (candidate) => candidate.scope === scopeAt(index + 1) && candidate.unit === UNIT,
    );
    expect(state, `ledger at ${scopeAt(index + 1)}`).toBeDefined();
    path.push(state!);
  });
  for (const state of path) {
    const where = `${state.scope} (${scenario.policy})`;
    expect(state.reserved, `reserved == Σ active holds on ${where}`).toBe(activeHeld);
    expect(state.spent + state.debt, `spent + debt == Σ charged on ${where}`).toBe(record.charged);
    expect(
      state.allocated - state.spent - state.reserved,
      `never oversubscribed on ${where}`,
    ).toBeGreaterThanOrEqual(0);
    if (scenario.policy === 'ALLOW_WITH_OVERDRAFT') {
      expect(state.debt, `debt ≤ limit on ${where}`).toBeLessThanOrEqual(state.overdraftLimit);
    } else {
      expect(state.debt, `no debt on ${where}`).toBe(0);
      expect(state.remaining, `remaining ≥ 0 on ${where}`).toBeGreaterThanOrEqual(0);
      expect(state.spent, `spent equal on every level (${where})`).toBe(record.charged);
    }
    if (scenario.policy === 'REJECT') {
      expect(state.spent, `Σ charged ≤ allocation on ${where}`).toBeLessThanOrEqual(state.allocated);
    }
  }
  return states;
}

async function setUpScenario(ledger: Ledger, scenario: Scenario): Promise<void> {
  for (const [index, budget] of scenario.budgets.entries()) {
    if (budget !== null) await ledger.createLedger({ scope: scopeAt(index + 1), unit: UNIT, ...budget });
  }
  const leaf = scopeAt(scenario.budgets.length);
  await ledger.createLedger({ scope: leaf, unit: 'CREDITS', allocated: 777 });
  await ledger.createLedger({ scope: 'tenant:acme/workspace:sibling', unit: UNIT, allocated: 555 });
}

async function runScenario(
  ledger: Ledger,
  clock: ManualClock,
  scenario: Scenario,
  scheduler: Scheduler,
): Promise<void> {
  await setUpScenario(ledger, scenario);
  const bystanders = await snapshotLedgers(ledger);
  const record: RunRecord = { holds: [], replayables: [], charged: 0, commits: [], events: [] };
  for (const batch of scenario.batches) {
    const runs = batch.map((operation) =>
      scheduler
        .schedule(Promise.resolve(operation))
        .then((scheduled) => executeOperation(ledger, clock, scenario, record, scheduled)),
    );
    await scheduler.waitAll();
    await Promise.all(runs);
    await checkQuiescent(ledger, scenario, record);
  }

  clock.advance(FORCE_EXPIRE_MS);
  await ledger.sweepExpired();
  const statuses = await statusesOf(ledger, record.holds);
  record.holds.forEach((hold, index) => {
    expect(hold.committed + hold.released, `one terminal state for ${hold.id}`).toBeLessThanOrEqual(1);
    const expected = hold.committed === 1 ? 'COMMITTED' : hold.released === 1 ? 'RELEASED' : 'EXPIRED';
    expect(statuses[index], `final status of ${hold.id}`).toBe(expected);
    checkTiming(hold);
  });
  const states = await checkQuiescent(ledger, scenario, record);
  for (const state of states) expect(state.reserved, `no hold left on ${state.scope}`).toBe(0);

  for (const { estimate, actual, charged } of record.commits) {
    if (actual <= estimate) {
      expect(charged).toBe(actual);
    } else {
      expect(scenario.policy, 'REJECT never charges more than E').not.toBe('REJECT');
      expect(charged).toBeGreaterThanOrEqual(estimate);
      expect(charged).toBeLessThanOrEqual(actual);
    }
  }
  for (const { actual, charged } of record.events) {
    expect(charged).toBeLessThanOrEqual(actual);
    if (scenario.policy === 'REJECT') expect(charged).toBe(actual);
  }

  const after = await snapshotLedgers(ledger);
  for (const key of Object.keys(bystanders)) {
    const [scope, unit] = key.split('|');
    const onPath = scenario.budgets.some(
      (budget, index) => budget !== null && scope === scopeAt(index + 1) && unit === UNIT,
    );
    if (!onPath) expect(after[key], `bystander ${key} untouched`).toEqual(bystanders[key]);
  }

  for (const { replay, body } of record.replayables) {
    const replayed = await replay();
    expect(withoutRemainingTtl(replayed)).toEqual(withoutRemainingTtl(body));
  }
  expect(await snapshotLedgers(ledger), 'replays change nothing').toEqual(after);
}

/** Property-based tests of §6's invariants over random, concurrently interleaved operations. */
export function registerPropertyTests(options: ConformanceOptions): void {
  const numRuns = options.propertyRuns ?? 50;

  describe('properties (§6 invariants)', () => {
    const harness = harnessFactory(options);

    it('random interleavings over 1–6 levels keep every invariant', { timeout: 120_000 }, async () => {
      await fc.assert(
        fc.asyncProperty(scenarioArbitrary, fc.scheduler(), async (scenario, scheduler) => {
          const { ledger, clock } = await harness();
          try {
            await runScenario(ledger, clock, scenario, scheduler);
          } finally {
            await ledger.close?.();
          }
        }),
        { numRuns },
      );
    });

    it('concurrent reserves never oversubscribe a shared budget', { timeout: 120_000 }, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: 2000 }),
          fc.integer({ min: 1, max: 3 }),
          fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 2, maxLength: 30 }),
          async (allocated, depth, estimates) => {
            const { ledger } = await harness();
            try {
              for (let level = 1; level <= depth; level += 1) {
                await ledger.createLedger({
                  scope: scopeAt(level),
                  unit: UNIT,
                  allocated: allocated + level - 1,
                });
              }
              const outcomes = await Promise.all(
                estimates.map(async (estimate) => {
                  try {
                    const response = await ledger.reserve({
                      idempotencyKey: freshKey('fan-out'),
                      subject: subjectFor(depth),
                      action: ACTION,
                      estimate: { unit: UNIT, amount: estimate },
                    });
                    return { estimate, id: response.reservationId };
                  } catch (error) {
                    expect(refusalOf(error)).toBe('BUDGET_EXCEEDED');
                    return { estimate, id: undefined };
                  }
                }),
              );
              const held = outcomes.filter(
                (outcome): outcome is { estimate: number; id: string } => typeof outcome.id === 'string',
              );
              const total = held.reduce((sum, outcome) => sum + outcome.estimate, 0);
              expect(total).toBeLessThanOrEqual(allocated);
              const states = await checkIdentity(ledger);
              for (const state of states) expect(countersOf(state).reserved).toBe(total);
              for (const outcome of outcomes) {
                if (outcome.id === undefined) expect(outcome.estimate).toBeGreaterThan(allocated - total);
              }
              await Promise.all(
                held.map((outcome) =>
                  ledger.release(outcome.id, { idempotencyKey: freshKey('fan-out-release') }),
                ),
              );
              for (const state of await checkIdentity(ledger)) {
                expect(state.reserved).toBe(0);
                expect(state.remaining).toBe(state.allocated);
              }
            } finally {
              await ledger.close?.();
            }
          },
        ),
        { numRuns },
      );
    });
  });
}
