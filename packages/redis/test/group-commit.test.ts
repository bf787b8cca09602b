import fc from 'fast-check';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { ACTION, provision, recordCalls, start, step, UNIT } from './support/group-steps.ts';
import { normalize } from './support/normalize-ids.ts';
import { startReferencePair } from './support/reference-pair.ts';
import { expectSameFinalState } from './support/same-final-state.ts';
import { useRedis } from './support/server.ts';

// Group commit (src/group-commit.ts, src/lua/group.ts): operations started in the same turn go to Redis
// as one call, run one after another inside it. Each must answer exactly as it would alone, in the
// order it was called: the memory ledger, running the same operations one at a time, is the reference.

const redis = useRedis();

describe('group commit', () => {
  it('answers every operation of random groups as the memory ledger does one at a time', async () => {
    let grouped = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({ steps: fc.array(step, { minLength: 1, maxLength: 12 }), advanceMs: fc.nat(30_000) }),
          { minLength: 1, maxLength: 6 },
        ),
        async (groups) => {
          const { memory, memoryClock, ledger, redisClock } = await startReferencePair(redis, provision);
          const calls = recordCalls(ledger);
          const memoryIds: string[] = [];
          const redisIds: string[] = [];
          let index = 0;
          for (const { steps, advanceMs } of groups) {
            const memoryKnown = [...memoryIds];
            const redisKnown = [...redisIds];
            const expected: unknown[] = [];
            for (const [offset, current] of steps.entries()) {
              expected.push(await start(memory, current, index + offset, memoryKnown, memoryIds));
            }
            // Every step started before any answer: they share one turn.
            const actual = await Promise.all(
              steps.map((current, offset) => start(ledger, current, index + offset, redisKnown, redisIds)),
            );
            expect(normalize(actual, redisIds), JSON.stringify(steps)).toEqual(
              normalize(expected, memoryIds),
            );
            index += steps.length;
            memoryClock.advance(advanceMs);
            redisClock.advance(advanceMs);
          }
          await expectSameFinalState(ledger, redisIds, memory, memoryIds);
          for (const call of calls) expect(call.operations).toBeLessThanOrEqual(8);
          grouped += calls.filter((call) => call.fn === 'group').length;
          await memory.close?.();
        },
      ),
      { numRuns: 60 },
    );
    // The property ran groups, not only single calls.
    expect(grouped).toBeGreaterThan(20);
  }, 300_000);

  it('sends a lone operation as its own function, and concurrent ones in groups of at most 8', async () => {
    const ledger = redis.ledger();
    await ledger.createLedger({ scope: 'tenant:acme', unit: UNIT, allocated: 1_000_000 });
    const calls = recordCalls(ledger);
    const reserve = (key: string) =>
      ledger.reserve({
        idempotencyKey: key,
        subject: { tenant: 'acme' },
        action: ACTION,
        estimate: { unit: UNIT, amount: 10 },
      });
    await reserve('alone');
    expect(calls).toEqual([{ fn: 'reserve', operations: 1 }]);
    calls.length = 0;
    const holds = await Promise.all(Array.from({ length: 20 }, (_, i) => reserve(`many-${i}`)));
    expect(calls).toEqual([
      { fn: 'group', operations: 8 },
      { fn: 'group', operations: 8 },
      { fn: 'group', operations: 4 },
    ]);
    expect(new Set(holds.map((hold) => hold.reservationId)).size).toBe(20);
    expect(await ledger.getLedger('tenant:acme', UNIT)).toMatchObject({ reserved: 210 });
  });

  it("keeps a refusal and a runtime error to their own operation: the neighbours' answers and writes stand", async () => {
    const prefix = redis.prefix();
    const ledger = redis.ledger({ keyPrefix: prefix });
    await ledger.createLedger({ scope: 'tenant:acme', unit: UNIT, allocated: 100 });
    // The idempotency record of key 'broken' is a hash: the script's GET of it fails (WRONGTYPE) inside
    // Redis, a runtime error in the middle of the group.
    const admin = new Redis(redis.server.url);
    await admin.hset(`${prefix}i:acme|reserve|broken`, 'field', 'value');
    admin.disconnect();
    const reserve = (key: string, amount: number) =>
      ledger.reserve({
        idempotencyKey: key,
        subject: { tenant: 'acme' },
        action: ACTION,
        estimate: { unit: UNIT, amount },
      });
    const settled = await Promise.allSettled([
      reserve('first', 40),
      reserve('too-much', 500),
      reserve('broken', 10),
      reserve('last', 50),
    ]);
    expect(settled.map((result) => result.status)).toEqual([
      'fulfilled',
      'rejected',
      'rejected',
      'fulfilled',
    ]);
    expect((settled[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'BUDGET_EXCEEDED' });
    const broken = (settled[2] as PromiseRejectedResult).reason as Error;
    expect(broken.name).toBe('InternalError');
    expect(broken.message).toMatch(/WRONGTYPE/);
    // Only the two granted holds were written; a replay of each answers the same reservation.
    expect(await ledger.getLedger('tenant:acme', UNIT)).toMatchObject({ reserved: 90, remaining: 10 });
    const [first, last] = [settled[0], settled[3]] as PromiseFulfilledResult<{ reservationId: string }>[];
    expect((await reserve('first', 40)).reservationId).toBe(first!.value.reservationId);
    expect((await reserve('last', 50)).reservationId).toBe(last!.value.reservationId);
  });
});
