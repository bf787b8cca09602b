import { createMemoryLedger, type Ledger } from '@cycles-guard/core';
import { ManualClock } from '@cycles-guard/core/testing';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { normalize } from './support/normalize-ids.ts';
import { useRedis } from './support/server.ts';
import { answerOf, holdAt } from './support/step-answer.ts';

// A tenant at its reservation bound (src/lua/reservations.ts, take_room): each reserve forgets the
// tenant's oldest ended reservations past the replay window, else is refused (429). The script keeps
// the count in one key, read instead of incremented while the tenant stays at its bound; random runs
// must answer as the memory ledger does, and the count must always equal what the tenant keeps.

const redis = useRedis();
const UNIT = 'TOKENS' as const;
const ACTION = { kind: 'llm.completion', name: 'bound' };
const WINDOW_MS = 1000;

type Step =
  | { kind: 'reserve'; ttlMs: number }
  | { kind: 'commit'; hold: number }
  | { kind: 'release'; hold: number }
  | { kind: 'bound'; max: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('reserve' as const),
      ttlMs: fc.integer({ min: 1000, max: 4000 }),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('commit' as const), hold: fc.nat(40) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('release' as const), hold: fc.nat(40) }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('bound' as const), max: fc.integer({ min: 1, max: 6 }) }),
  },
);

function run(ledger: Ledger, current: Step, index: number, known: string[], ids: string[]): Promise<unknown> {
  const hold = (n: number) => holdAt(known, n);
  const answer = (action: () => Promise<unknown>) => answerOf(action, ids);
  switch (current.kind) {
    case 'reserve':
      return answer(() =>
        ledger.reserve({
          idempotencyKey: `reserve-${index}`,
          subject: { tenant: 'acme' },
          action: ACTION,
          estimate: { unit: UNIT, amount: 5 },
          ttlMs: current.ttlMs,
        }),
      );
    case 'commit':
      return answer(() =>
        ledger.commit(hold(current.hold), {
          idempotencyKey: `commit-${index}`,
          actual: { unit: UNIT, amount: 3 },
        }),
      );
    case 'release':
      return answer(() => ledger.release(hold(current.hold), { idempotencyKey: `release-${index}` }));
    case 'bound':
      return answer(() => ledger.setTenant('acme', { maxReservations: current.max }));
  }
}

const batches = fc.array(
  fc.record({ steps: fc.array(step, { minLength: 1, maxLength: 8 }), advanceMs: fc.nat(1500) }),
  { minLength: 1, maxLength: 12 },
);

interface Target {
  ledger: Ledger;
  clock: ManualClock;
  ids: string[];
}

async function open(ledger: Ledger, clock: ManualClock): Promise<Target> {
  await ledger.createLedger({ scope: 'tenant:acme', unit: UNIT, allocated: 1_000_000 });
  await ledger.setTenant('acme', { maxReservations: 3 });
  return { ledger, clock, ids: [] };
}

/**
 * Runs a batch on a target: one step at a time, each 1 ms after the one before (spaced), or all
 * started in one turn (so the runtime operations go as groups, setTenant alone in its place).
 */
async function runBatch(target: Target, steps: Step[], index: number, spaced: boolean): Promise<unknown> {
  const known = [...target.ids];
  if (!spaced)
    return Promise.all(
      steps.map((current, offset) => run(target.ledger, current, index + offset, known, target.ids)),
    );
  const answers: unknown[] = [];
  for (const [offset, current] of steps.entries()) {
    answers.push(await run(target.ledger, current, index + offset, known, target.ids));
    target.clock.advance(1);
  }
  return answers;
}

const OPTIONS = { reservationReplayWindowMs: WINDOW_MS, reservationRetentionMs: 3_600_000 };

describe('a tenant at its reservation bound', () => {
  const admin = () => new Redis(redis.server.url);

  /** The count the bound reads: every reservation the tenant keeps, no more (a count of 0 is no key). */
  async function expectCountKept(prefix: string, target: Target): Promise<unknown[]> {
    const kept = (await target.ledger.listReservations({ tenant: 'acme', limit: 200, sortDir: 'asc' }))
      .reservations;
    const client = admin();
    expect(Number((await client.get(`${prefix}held:acme`)) ?? 0)).toBe(kept.length);
    expect(await client.exists(`${prefix}held:acme`)).toBe(kept.length > 0 ? 1 : 0);
    client.disconnect();
    return normalize(kept, target.ids) as unknown[];
  }

  // Spaced 1 ms apart: reservations that end in the same millisecond are forgotten in end order by the
  // memory ledger and in id order by Redis (one sorted set scored by end time), a tie not compared here.
  it('answers as the memory ledger does, and its count is what it keeps', async () => {
    const tally = { refusals: 0, forgotten: 0 };
    await fc.assert(
      fc.asyncProperty(batches, async (run) => {
        const memoryClock = new ManualClock();
        const memory = await open(
          createMemoryLedger({ clock: memoryClock, sweepIntervalMs: 0, ...OPTIONS }),
          memoryClock,
        );
        const prefix = redis.prefix();
        const redisClock = new ManualClock();
        const onRedis = await open(
          redis.ledger({ keyPrefix: prefix, clock: redisClock, ...OPTIONS }),
          redisClock,
        );
        let index = 0;
        for (const { steps, advanceMs } of run) {
          const expected = await runBatch(memory, steps, index, true);
          const actual = (await runBatch(onRedis, steps, index, true)) as Array<{ error?: string }>;
          expect(normalize(actual, onRedis.ids), JSON.stringify(steps)).toEqual(
            normalize(expected, memory.ids),
          );
          tally.refusals += actual.filter((answer) => answer.error === 'LIMIT_EXCEEDED').length;
          index += steps.length;
          memory.clock.advance(advanceMs);
          onRedis.clock.advance(advanceMs);
        }
        const kept = await expectCountKept(prefix, onRedis);
        const list = { tenant: 'acme', limit: 200, sortDir: 'asc' as const };
        expect(kept).toEqual(
          normalize((await memory.ledger.listReservations(list)).reservations, memory.ids),
        );
        tally.forgotten += onRedis.ids.length - kept.length;
        await memory.ledger.close?.();
      }),
      { numRuns: 60 },
    );
    // The runs reached the bound both ways: refused inside the window, and room made by forgetting.
    expect(tally.refusals).toBeGreaterThan(20);
    expect(tally.forgotten).toBeGreaterThan(50);
  }, 300_000);

  it('answers in groups as one at a time, and its count is what it keeps', async () => {
    let forgotten = 0;
    await fc.assert(
      fc.asyncProperty(batches, async (run) => {
        const prefixes = [redis.prefix(), redis.prefix()] as const;
        const targets = [] as Target[];
        for (const prefix of prefixes) {
          const clock = new ManualClock();
          targets.push(await open(redis.ledger({ keyPrefix: prefix, clock, ...OPTIONS }), clock));
        }
        const [alone, together] = targets as [Target, Target];
        let index = 0;
        for (const { steps, advanceMs } of run) {
          const expected = [];
          // One at a time, all in the same millisecond, as the group's operations are.
          const known = [...alone.ids];
          for (const [offset, current] of steps.entries()) {
            expected.push(await runOne(alone, current, index + offset, known));
          }
          const actual = await runBatch(together, steps, index, false);
          expect(normalize(actual, together.ids), JSON.stringify(steps)).toEqual(
            normalize(expected, alone.ids),
          );
          index += steps.length;
          for (const target of targets) target.clock.advance(advanceMs);
        }
        const kept = await expectCountKept(prefixes[1], together);
        expect(kept).toEqual(await expectCountKept(prefixes[0], alone));
        forgotten += together.ids.length - kept.length;
      }),
      { numRuns: 40 },
    );
    expect(forgotten).toBeGreaterThan(30);
  }, 300_000);
});

function runOne(target: Target, current: Step, index: number, known: string[]): Promise<unknown> {
  return run(target.ledger, current, index, known, target.ids);
}
