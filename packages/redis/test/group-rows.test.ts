import type { Ledger } from '@cycles-guard/core';
import { ManualClock } from '@cycles-guard/core/testing';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { RedisLedger } from '../src/index.ts';
import { ACTION, provision, type Step, start, step, UNIT } from './support/group-steps.ts';
import { normalize } from './support/normalize-ids.ts';
import { useRedis } from './support/server.ts';
import { answerOf } from './support/step-answer.ts';

// A group keeps the budget rows its operations read or persisted and writes each once at its end
// (src/lua/ledger-rows.ts). An operation that stops after its arithmetic but before persisting (a
// refusal past the exact-integer range) or with a runtime error (a key of the wrong type) must leave
// the rows as the same operation run alone leaves Redis. The reference here is Redis itself: the same
// steps on a second prefix, sent one at a time (the memory ledger has neither of those two endings).

const redis = useRedis();
const MAX = Number.MAX_SAFE_INTEGER;
/** 400 of these is the whole exact range: two or three large events on tenant:big overflow it. */
const BIG = Math.floor(MAX / 400);

type RowStep =
  | Step
  | { kind: 'bigEvent'; amount: number }
  | { kind: 'bigReserve'; key: number }
  | { kind: 'bigCommit'; hold: number; amount: number }
  | { kind: 'bigReset'; edge: boolean };

const rowStep: fc.Arbitrary<RowStep> = fc.oneof(
  { weight: 6, arbitrary: step },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('bigEvent' as const),
      amount: fc.oneof(
        fc.nat(4000),
        fc.nat(400).map((n) => n * BIG),
      ),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('bigReserve' as const), key: fc.nat(12) }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('bigCommit' as const), hold: fc.nat(20), amount: fc.nat(400) }),
  },
  // Sent alone (funding is never grouped): edge puts tenant:big 2,000 above -(2^53 - 1) remaining, so
  // events and overrunning commits after it are refused past the exact range after their arithmetic.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('bigReset' as const), edge: fc.boolean() }) },
);

/**
 * Keys (under the prefix) replaced by a value of the wrong type for one group: every script touching
 * them fails inside Redis, before (idempotency record, settings, held count) or after (due and ended
 * indexes) the operation persisted its rows.
 */
const FAULTS = [
  'held:acme',
  'held:big',
  'ended:t:acme',
  'ended:t:big',
  'due',
  'tenant:acme',
  'i:acme|reserve|reserve-4',
] as const;

const group = fc.record({
  steps: fc.array(rowStep, { minLength: 1, maxLength: 10 }),
  advanceMs: fc.nat(30_000),
  faults: fc.subarray([...FAULTS], { maxLength: 2 }),
});

async function provisionBig(ledger: Ledger): Promise<void> {
  await provision(ledger);
  await ledger.createLedger({
    scope: 'tenant:big',
    unit: UNIT,
    allocated: MAX - 1000,
    overdraftLimit: MAX,
    commitOveragePolicy: 'ALLOW_WITH_OVERDRAFT',
  });
}

/** A runtime error's text names the script and line when sent alone: keep its Redis error code. */
function clean(answer: unknown): unknown {
  const failed = answer as { error?: string; message?: string };
  if (failed.error !== 'INTERNAL_ERROR') return answer;
  return { ...failed, message: /WRONGTYPE/.exec(failed.message ?? '')?.[0] ?? failed.message };
}

function startRow(ledger: Ledger, current: RowStep, index: number, known: string[], ids: string[]) {
  // clean() leaves an answer that is not an INTERNAL_ERROR as it is.
  const answer = async (action: () => Promise<unknown>) => clean(await answerOf(action, ids));
  const subject = { tenant: 'big' };
  switch (current.kind) {
    case 'bigEvent':
      return answer(() =>
        ledger.createEvent({
          idempotencyKey: `big-event-${index}`,
          subject,
          action: ACTION,
          actual: { unit: UNIT, amount: current.amount },
        }),
      );
    case 'bigReset':
      return answer(() =>
        ledger.fund({
          scope: 'tenant:big',
          unit: UNIT,
          funding: current.edge
            ? { operation: 'RESET_SPENT', amount: 0, spent: MAX - 2000 }
            : { operation: 'RESET_SPENT', amount: MAX - 1000, spent: 0 },
        }),
      );
    case 'bigReserve':
      return answer(() =>
        ledger.reserve({
          idempotencyKey: `big-${current.key}`,
          subject,
          action: ACTION,
          estimate: { unit: UNIT, amount: (((current.key * 37) % 400) + 1) * BIG },
        }),
      );
    case 'bigCommit':
      return answer(() =>
        ledger.commit(known[current.hold % Math.max(known.length, 1)] ?? 'rsv_missing', {
          idempotencyKey: `big-commit-${index}`,
          actual: { unit: UNIT, amount: current.amount * BIG },
        }),
      );
    default:
      return start(ledger, current, index, known, ids).then(clean);
  }
}

/** Puts a value of the wrong type at each key, the real one set aside; answers how to undo it. */
async function inject(admin: Redis, prefix: string, faults: readonly string[]): Promise<() => Promise<void>> {
  for (const fault of faults) {
    const key = prefix + fault;
    const type = await admin.type(key);
    if (type !== 'none') await admin.rename(key, `${key}:aside`);
    if (type === 'hash') await admin.set(key, 'wrong type');
    else await admin.hset(key, 'wrong', 'type');
  }
  return async () => {
    for (const fault of faults) {
      const key = prefix + fault;
      await admin.del(key);
      if (await admin.exists(`${key}:aside`)) await admin.rename(`${key}:aside`, key);
    }
  };
}

async function state(ledger: RedisLedger, ids: string[]) {
  const ledgers = (await ledger.listLedgers())
    .map(({ ledgerId: _id, ...row }) => row)
    .sort((a, b) => a.scope.localeCompare(b.scope));
  const reservations = [];
  for (const tenant of ['acme', 'big']) {
    const page = await ledger.listReservations({ tenant, limit: 200, sortDir: 'asc' });
    reservations.push(normalize(page.reservations, ids));
  }
  return { ledgers, reservations };
}

describe('rows cached across a group', () => {
  it('answers and writes as the same operations one at a time, with refusals past 2^53 and runtime errors', async () => {
    let overflows = 0;
    let runtimeErrors = 0;
    let grouped = 0;
    const admin = new Redis(redis.server.url);
    await fc.assert(
      fc.asyncProperty(fc.array(group, { minLength: 1, maxLength: 6 }), async (groups) => {
        const groupedPrefix = redis.prefix();
        const lonePrefix = redis.prefix();
        const groupedClock = new ManualClock();
        const loneClock = new ManualClock();
        const together = redis.ledger({
          keyPrefix: groupedPrefix,
          clock: groupedClock,
          includeBalances: true,
        });
        const alone = redis.ledger({ keyPrefix: lonePrefix, clock: loneClock, includeBalances: true });
        await provisionBig(together);
        await provisionBig(alone);
        const togetherIds: string[] = [];
        const aloneIds: string[] = [];
        let index = 0;
        for (const { steps, advanceMs, faults } of groups) {
          const togetherKnown = [...togetherIds];
          const aloneKnown = [...aloneIds];
          const undoAlone = await inject(admin, lonePrefix, faults);
          const expected: unknown[] = [];
          for (const [offset, current] of steps.entries()) {
            expected.push(await startRow(alone, current, index + offset, aloneKnown, aloneIds));
          }
          await undoAlone();
          const undoTogether = await inject(admin, groupedPrefix, faults);
          // Every step started before any answer: they share one turn, so they go in groups.
          const actual = await Promise.all(
            steps.map((current, offset) =>
              startRow(together, current, index + offset, togetherKnown, togetherIds),
            ),
          );
          await undoTogether();
          expect(normalize(actual, togetherIds), JSON.stringify({ steps, faults })).toEqual(
            normalize(expected, aloneIds),
          );
          for (const answer of actual as Array<{ error?: string; message?: string }>) {
            if (answer.error === 'INTERNAL_ERROR') runtimeErrors++;
            if (answer.error === 'INVALID_REQUEST' && answer.message?.includes('2^53')) overflows++;
          }
          if (steps.length > 1) grouped++;
          index += steps.length;
          groupedClock.advance(advanceMs);
          loneClock.advance(advanceMs);
        }
        expect(await state(together, togetherIds)).toEqual(await state(alone, aloneIds));
      }),
      { numRuns: 50 },
    );
    admin.disconnect();
    // The property met what it is about, not only plain successes.
    expect(overflows).toBeGreaterThan(10);
    expect(runtimeErrors).toBeGreaterThan(10);
    expect(grouped).toBeGreaterThan(20);
  }, 300_000);
});
