import fc, { type Arbitrary } from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Ledger } from '../ledger/types.ts';
import { OVERAGE_POLICIES, type OveragePolicy } from '../protocol/enums.ts';
import { CyclesError } from '../protocol/errors.ts';
import type { Subject } from '../protocol/types.ts';
import { ACTION, type ConformanceOptions, freshKey, UNIT } from './fixtures.ts';
import { harnessFactory } from './harness.ts';
import {
  type ModelOutcome,
  type ModelScope,
  modelCommit,
  modelEvent,
  modelRelease,
  modelReserve,
} from './settlement-model.ts';

const LEVELS = ['tenant', 'workspace', 'app', 'workflow', 'agent', 'toolset'] as const;
const VALUES = ['acme', 'ws', 'app', 'flow', 'agent', 'tools'] as const;

type Step =
  | { kind: 'reserve'; estimate: number; policy: OveragePolicy }
  | { kind: 'commit'; target: number; actual: number }
  | { kind: 'release'; target: number }
  | { kind: 'event'; actual: number; policy: OveragePolicy };

const policyArbitrary = fc.constantFrom(...OVERAGE_POLICIES);
const stepArbitrary: Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('reserve' as const),
      estimate: fc.integer({ min: 0, max: 500 }),
      policy: policyArbitrary,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('commit' as const),
      target: fc.nat(),
      actual: fc.integer({ min: 0, max: 900 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('release' as const), target: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('event' as const),
      actual: fc.integer({ min: 0, max: 500 }),
      policy: policyArbitrary,
    }),
  },
);

const budgetsArbitrary = fc
  .array(
    fc.option(
      fc.record({
        allocated: fc.integer({ min: 0, max: 2500 }),
        overdraftLimit: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 300 })),
      }),
      { nil: null },
    ),
    { minLength: 1, maxLength: 6 },
  )
  .filter((budgets) => budgets.some((budget) => budget !== null));

function scopeAt(depth: number): string {
  return LEVELS.slice(0, depth)
    .map((level, index) => `${level}:${VALUES[index]}`)
    .join('/');
}

function subjectFor(depth: number): Subject {
  const subject: Record<string, string> = {};
  for (let index = 0; index < depth; index += 1) subject[LEVELS[index]!] = VALUES[index]!;
  return subject as Subject;
}

/** Runs `operation` and turns its answer into the model's shape (charge or refusal code). */
async function outcomeOf(operation: () => Promise<number>): Promise<ModelOutcome> {
  try {
    return { ok: true, charged: await operation() };
  } catch (error) {
    if (!CyclesError.isInstance(error)) throw error;
    return { ok: false, code: error.code };
  }
}

async function expectModel(
  ledger: Ledger,
  paths: string[],
  model: ModelScope[],
  step: string,
): Promise<void> {
  for (const [index, scope] of paths.entries()) {
    const state = await ledger.getLedger(scope, UNIT);
    const { allocated, remaining, reserved, spent, debt, overdraftLimit, isOverLimit } = state!;
    expect(
      { allocated, remaining, reserved, spent, debt, overdraftLimit, isOverLimit },
      `${scope} after ${step}`,
    ).toEqual(model[index]);
  }
}

/**
 * Serialized random operations checked step by step against a reference model of §2.2, §2.4, §2.6 and
 * §2.10: every outcome (charge or refusal code) and every counter of every budgeted scope.
 */
export function registerModelPropertyTests(options: ConformanceOptions): void {
  describe('properties (reference model of settlement)', () => {
    const harness = harnessFactory(options);

    it('every reserve, commit, release and event matches the model exactly', {
      timeout: 120_000,
    }, async () => {
      await fc.assert(
        fc.asyncProperty(
          budgetsArbitrary,
          fc.array(stepArbitrary, { minLength: 1, maxLength: 40 }),
          async (budgets, steps) => {
            const { ledger } = await harness();
            try {
              const depth = budgets.length;
              const paths: string[] = [];
              const model: ModelScope[] = [];
              for (const [index, budget] of budgets.entries()) {
                if (budget === null) continue;
                await ledger.createLedger({ scope: scopeAt(index + 1), unit: UNIT, ...budget });
                paths.push(scopeAt(index + 1));
                model.push({
                  ...budget,
                  remaining: budget.allocated,
                  reserved: 0,
                  spent: 0,
                  debt: 0,
                  isOverLimit: false,
                });
              }
              const holds: Array<{ id: string; estimate: number; policy: OveragePolicy; done: boolean }> = [];
              for (const [number, step] of steps.entries()) {
                const label = `step ${number} ${JSON.stringify(step)}`;
                if (step.kind === 'reserve') {
                  const expected = modelReserve(model, step.estimate);
                  let id = '';
                  const actual = await outcomeOf(async () => {
                    const response = await ledger.reserve({
                      idempotencyKey: freshKey('model-reserve'),
                      subject: subjectFor(depth),
                      action: ACTION,
                      estimate: { unit: UNIT, amount: step.estimate },
                      overagePolicy: step.policy,
                      ttlMs: 3_600_000,
                    });
                    id = response.reservationId!;
                    return 0;
                  });
                  expect(actual, label).toEqual(expected);
                  if (actual.ok)
                    holds.push({ id, estimate: step.estimate, policy: step.policy, done: false });
                } else if (step.kind === 'event') {
                  const expected = modelEvent(model, step.actual, step.policy);
                  const actual = await outcomeOf(async () => {
                    const response = await ledger.createEvent({
                      idempotencyKey: freshKey('model-event'),
                      subject: subjectFor(depth),
                      action: ACTION,
                      actual: { unit: UNIT, amount: step.actual },
                      overagePolicy: step.policy,
                    });
                    return response.charged?.amount ?? step.actual;
                  });
                  expect(actual, label).toEqual(expected);
                } else {
                  const hold = holds.length === 0 ? undefined : holds[step.target % holds.length];
                  if (hold === undefined) continue;
                  const settle =
                    step.kind === 'commit'
                      ? () =>
                          ledger
                            .commit(hold.id, {
                              idempotencyKey: freshKey('model-commit'),
                              actual: { unit: UNIT, amount: step.actual },
                            })
                            .then((response) => response.charged.amount)
                      : () =>
                          ledger
                            .release(hold.id, { idempotencyKey: freshKey('model-release') })
                            .then((response) => response.released.amount);
                  let expected: ModelOutcome;
                  if (hold.done) {
                    expected = { ok: false, code: 'RESERVATION_FINALIZED' };
                  } else if (step.kind === 'commit') {
                    expected = modelCommit(model, hold.estimate, step.actual, hold.policy);
                  } else {
                    modelRelease(model, hold.estimate);
                    expected = { ok: true, charged: hold.estimate };
                  }
                  const actual = await outcomeOf(settle);
                  expect(actual, label).toEqual(expected);
                  if (actual.ok) hold.done = true;
                }
                await expectModel(ledger, paths, model, label);
              }
            } finally {
              await ledger.close?.();
            }
          },
        ),
        { numRuns: options.propertyRuns ?? 50 },
      );
    });
  });
}
