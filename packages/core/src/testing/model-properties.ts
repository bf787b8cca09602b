import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Ledger } from '../ledger/types.ts';
import type { OveragePolicy } from '../protocol/enums.ts';
import { CyclesError } from '../protocol/errors.ts';
import { ACTION, type ConformanceOptions, freshKey, UNIT } from './fixtures.ts';
import { harnessFactory } from './harness.ts';
import { operationArbitrary, scopeAt, subjectFor } from './operations.ts';
import {
  type ModelOutcome,
  type ModelScope,
  modelCommit,
  modelEvent,
  modelRelease,
  modelReserve,
} from './settlement-model.ts';

const stepArbitrary = operationArbitrary({
  estimateMax: 500,
  eventActualMax: 500,
  advanceMaxMs: 12_000,
  eventWeight: 2,
});

/** Default `max_reservation_extensions` (§3). */
const MAX_EXTENSIONS = 10;

interface ModelHold {
  id: string;
  held: number;
  policy: OveragePolicy;
  status: 'ACTIVE' | 'FINALIZED' | 'EXPIRED';
  expiresAtMs: number;
  gracePeriodMs: number;
  extensions: number;
}

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

    it('every reserve, commit, release, extend, expiry and event matches the model exactly', {
      timeout: 120_000,
    }, async () => {
      await fc.assert(
        fc.asyncProperty(
          budgetsArbitrary,
          fc.array(stepArbitrary, { minLength: 1, maxLength: 40 }),
          async (budgets, steps) => {
            const { ledger, clock } = await harness();
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
              const holds: ModelHold[] = [];
              for (const [number, step] of steps.entries()) {
                const label = `step ${number} ${JSON.stringify(step)}`;
                if (step.kind === 'reserve') {
                  const minimum = step.minimum === null ? undefined : Math.min(step.minimum, step.estimate);
                  const expected = modelReserve(model, step.estimate, minimum);
                  let id = '';
                  const actual = await outcomeOf(async () => {
                    const response = await ledger.reserve({
                      idempotencyKey: freshKey('model-reserve'),
                      subject: subjectFor(depth),
                      action: ACTION,
                      estimate: { unit: UNIT, amount: step.estimate },
                      overagePolicy: step.policy,
                      ttlMs: step.ttlMs,
                      gracePeriodMs: step.gracePeriodMs,
                      minimum,
                    });
                    id = response.reservationId!;
                    expect(response.partial ?? false, label).toBe(response.reserved!.amount < step.estimate);
                    return response.reserved!.amount;
                  });
                  expect(actual, label).toEqual(expected);
                  if (actual.ok) {
                    holds.push({
                      id,
                      held: actual.charged,
                      policy: step.policy,
                      status: 'ACTIVE',
                      expiresAtMs: clock.now() + step.ttlMs,
                      gracePeriodMs: step.gracePeriodMs,
                      extensions: 0,
                    });
                  }
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
                } else if (step.kind === 'advance') {
                  clock.advance(step.ms);
                  await ledger.sweepExpired();
                  for (const hold of holds) {
                    if (hold.status === 'ACTIVE' && clock.now() > hold.expiresAtMs + hold.gracePeriodMs) {
                      modelRelease(model, hold.held);
                      hold.status = 'EXPIRED';
                    }
                  }
                } else {
                  const hold = holds.length === 0 ? undefined : holds[step.target % holds.length];
                  if (hold === undefined) continue;
                  const now = clock.now();
                  let expected: ModelOutcome;
                  let settle: () => Promise<number>;
                  if (step.kind === 'extend') {
                    settle = () =>
                      ledger
                        .extend(hold.id, {
                          idempotencyKey: freshKey('model-extend'),
                          extendByMs: step.extendByMs,
                        })
                        .then((response) => response.expiresAtMs);
                    if (hold.status === 'EXPIRED' || (hold.status === 'ACTIVE' && now > hold.expiresAtMs)) {
                      expected = { ok: false, code: 'RESERVATION_EXPIRED' };
                    } else if (hold.status === 'FINALIZED') {
                      expected = { ok: false, code: 'RESERVATION_FINALIZED' };
                    } else if (hold.extensions >= MAX_EXTENSIONS) {
                      expected = { ok: false, code: 'MAX_EXTENSIONS_EXCEEDED' };
                    } else {
                      expected = { ok: true, charged: hold.expiresAtMs + step.extendByMs };
                    }
                  } else {
                    settle =
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
                    if (hold.status === 'EXPIRED') {
                      expected = { ok: false, code: 'RESERVATION_EXPIRED' };
                    } else if (hold.status === 'FINALIZED') {
                      expected = { ok: false, code: 'RESERVATION_FINALIZED' };
                    } else if (now > hold.expiresAtMs + hold.gracePeriodMs) {
                      expected = { ok: false, code: 'RESERVATION_EXPIRED' };
                    } else if (step.kind === 'commit') {
                      expected = modelCommit(model, hold.held, step.actual, hold.policy);
                    } else {
                      modelRelease(model, hold.held);
                      expected = { ok: true, charged: hold.held };
                    }
                  }
                  const actual = await outcomeOf(settle);
                  expect(actual, label).toEqual(expected);
                  if (actual.ok && step.kind === 'extend') {
                    hold.expiresAtMs += step.extendByMs;
                    hold.extensions += 1;
                  } else if (actual.ok) {
                    hold.status = 'FINALIZED';
                  }
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
