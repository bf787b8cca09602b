import { CyclesError, createMemoryLedger, type Ledger } from '@cycles-guard/core';
import { ManualClock } from '@cycles-guard/core/testing';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { RedisLedger } from '../src/index.ts';
import { useRedis } from './support/server.ts';

// Group commit (src/group-commit.ts, src/lua/group.ts): operations started in the same turn go to Redis
// as one call, run one after another inside it. Each must answer exactly as it would alone, in the
// order it was called: the memory ledger, running the same operations one at a time, is the reference.

const redis = useRedis();
const UNIT = 'TOKENS' as const;
const ACTION = { kind: 'llm.completion', name: 'group' };
const SUBJECTS = [
  { tenant: 'acme' },
  { tenant: 'acme', app: 'chat' },
  { tenant: 'acme', app: 'chat', agent: 'bot' },
  { tenant: 'acme', app: 'search' },
];

type Step =
  | { kind: 'reserve'; key: number }
  | { kind: 'commit'; hold: number; amount: number }
  | { kind: 'release'; hold: number }
  | { kind: 'extend'; hold: number; by: number }
  | { kind: 'event'; subject: number; amount: number }
  | { kind: 'decide'; subject: number; amount: number }
  | { kind: 'fund'; amount: number }
  | { kind: 'tenant'; status: 'ACTIVE' | 'CLOSED'; ttlMs: number; observe: boolean };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    // A small key space (the request follows from the key): some reserves replay an earlier one, in
    // the same group or another.
    arbitrary: fc.record({ kind: fc.constant('reserve' as const), key: fc.nat(30) }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('commit' as const), hold: fc.nat(20), amount: fc.nat(900) }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('release' as const), hold: fc.nat(20) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('extend' as const),
      hold: fc.nat(20),
      by: fc.integer({ min: 1, max: 30_000 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('event' as const), subject: fc.nat(3), amount: fc.nat(400) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('decide' as const), subject: fc.nat(3), amount: fc.nat(900) }),
  },
  // Not a grouped operation: sent alone, in its place among the grouped ones.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fund' as const), amount: fc.nat(500) }) },
  // Also sent alone: the operations after it in the same turn must see the new settings (a group
  // reads each tenant's settings once).
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('tenant' as const),
      status: fc.constantFrom('ACTIVE' as const, 'ACTIVE' as const, 'CLOSED' as const),
      ttlMs: fc.integer({ min: 1000, max: 40_000 }),
      observe: fc.boolean(),
    }),
  },
);

async function provision(ledger: Ledger): Promise<void> {
  await ledger.createLedger({ scope: 'tenant:acme', unit: UNIT, allocated: 3000 });
  await ledger.createLedger({
    scope: 'tenant:acme/app:chat',
    unit: UNIT,
    allocated: 1500,
    overdraftLimit: 200,
    caps: { maxTokens: 64 },
  });
  await ledger.createLedger({
    scope: 'tenant:acme/app:search',
    unit: UNIT,
    allocated: 800,
    commitOveragePolicy: 'REJECT',
  });
  await ledger.addTemplate({ pattern: 'tenant:*/app:*/agent:*', unit: UNIT, allocated: 400 });
  await ledger.setTenant('acme', { defaultReservationTtlMs: 20_000, maxReservationExtensions: 2 });
}

function normalize(value: unknown, ids: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/(rsv|evt|led)_[A-Za-z0-9_.-]+/g, (id) =>
      ids.includes(id) ? `#${ids.indexOf(id)}` : id.slice(0, 4),
    );
  }
  if (Array.isArray(value)) return value.map((item) => normalize(item, ids));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([name, member]) => [name, normalize(member, ids)]));
  }
  return value;
}

/**
 * Starts one step (synchronously up to its first await, so the steps of a group share a turn): holds
 * are looked up in `known` (the reservations before the group), new ones are appended to `ids`.
 */
function start(
  ledger: Ledger,
  current: Step,
  index: number,
  known: string[],
  ids: string[],
): Promise<unknown> {
  const hold = (n: number) => known[n % Math.max(known.length, 1)] ?? 'rsv_missing';
  const answer = async (action: () => Promise<unknown>) => {
    try {
      const result = await action();
      const id = (result as { reservationId?: string } | undefined)?.reservationId;
      if (id !== undefined && !ids.includes(id)) ids.push(id);
      return { ok: result };
    } catch (error) {
      if (!CyclesError.isInstance(error)) throw error;
      return { error: error.code, message: error.message, details: error.details };
    }
  };
  switch (current.kind) {
    case 'reserve':
      return answer(() =>
        ledger.reserve({
          idempotencyKey: `reserve-${current.key}`,
          subject: SUBJECTS[current.key % SUBJECTS.length]!,
          action: ACTION,
          estimate: { unit: UNIT, amount: current.key * 29 + 1 },
          ...(current.key % 3 === 0 ? { dryRun: true } : {}),
        }),
      );
    case 'commit':
      return answer(() =>
        ledger.commit(hold(current.hold), {
          idempotencyKey: `commit-${index}`,
          actual: { unit: UNIT, amount: current.amount },
        }),
      );
    case 'release':
      return answer(() => ledger.release(hold(current.hold), { idempotencyKey: `release-${index}` }));
    case 'extend':
      return answer(() =>
        ledger.extend(hold(current.hold), { idempotencyKey: `extend-${index}`, extendByMs: current.by }),
      );
    case 'event':
      return answer(() =>
        ledger.createEvent({
          idempotencyKey: `event-${index}`,
          subject: SUBJECTS[current.subject]!,
          action: ACTION,
          actual: { unit: UNIT, amount: current.amount },
        }),
      );
    case 'decide':
      return answer(() =>
        ledger.decide({
          idempotencyKey: `decide-${index}`,
          subject: SUBJECTS[current.subject]!,
          action: ACTION,
          estimate: { unit: UNIT, amount: current.amount },
        }),
      );
    case 'fund':
      return answer(() =>
        ledger.fund({
          scope: 'tenant:acme/app:chat',
          unit: UNIT,
          funding: { operation: 'CREDIT', amount: current.amount },
          idempotencyKey: `fund-${index}`,
        }),
      );
    case 'tenant':
      return answer(() =>
        ledger.setTenant('acme', {
          status: current.status,
          defaultReservationTtlMs: current.ttlMs,
          observeMode: current.observe,
        }),
      );
  }
}

/** The FCALLs a ledger's client sends, by function (group or a single operation) and operation count. */
function recordCalls(ledger: RedisLedger): Array<{ fn: string; operations: number }> {
  const calls: Array<{ fn: string; operations: number }> = [];
  const client = ledger.client as Redis;
  const call = client.call.bind(client) as (...args: unknown[]) => Promise<unknown>;
  (client as unknown as { call: typeof call }).call = (...args: unknown[]) => {
    const [command, fn] = args as [string, string];
    if (command === 'FCALL') {
      const group = fn.endsWith('_group');
      // A group's arguments: name, count, arguments... after the routing header (numkeys 0 here).
      let operations = 1;
      if (group) {
        operations = 0;
        const rest = args.slice(3) as string[];
        for (let i = 0; i < rest.length; i += 2 + Number(rest[i + 1])) operations++;
      }
      calls.push({ fn: group ? 'group' : fn.replace(/^cycles_[0-9a-f]+_/, ''), operations });
    }
    return call(...args);
  };
  return calls;
}

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
          const memoryClock = new ManualClock();
          const redisClock = new ManualClock();
          const memory = createMemoryLedger({
            clock: memoryClock,
            sweepIntervalMs: 0,
            includeBalances: true,
          });
          const ledger = redis.ledger({ clock: redisClock, includeBalances: true });
          await provision(memory);
          await provision(ledger);
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
          const strip = (states: Awaited<ReturnType<Ledger['listLedgers']>>) =>
            states.map(({ ledgerId: _id, ...state }) => state).sort((a, b) => a.scope.localeCompare(b.scope));
          expect(strip(await ledger.listLedgers())).toEqual(strip(await memory.listLedgers()));
          const list = { tenant: 'acme', limit: 200, sortDir: 'asc' as const };
          expect(normalize((await ledger.listReservations(list)).reservations, redisIds)).toEqual(
            normalize((await memory.listReservations(list)).reservations, memoryIds),
          );
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
