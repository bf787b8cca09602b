import type { Ledger } from '@cycles-guard/core';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import type { RedisLedger } from '../../src/index.ts';
import { commitStep, extendStep, releaseStep } from './hold-steps.ts';
import { answerOf, holdAt } from './step-answer.ts';

// The operations of the group-commit tests (group-commit.test.ts, group-rows.test.ts): random steps on
// one tenant's budgets, started so that the steps of a group share one event-loop turn.

export const UNIT = 'TOKENS' as const;
export const ACTION = { kind: 'llm.completion', name: 'group' };
export const SUBJECTS = [
  { tenant: 'acme' },
  { tenant: 'acme', app: 'chat' },
  { tenant: 'acme', app: 'chat', agent: 'bot' },
  { tenant: 'acme', app: 'search' },
];

export type Step =
  | { kind: 'reserve'; key: number }
  | { kind: 'commit'; hold: number; amount: number }
  | { kind: 'release'; hold: number }
  | { kind: 'extend'; hold: number; by: number }
  | { kind: 'event'; subject: number; amount: number }
  | { kind: 'decide'; subject: number; amount: number }
  | { kind: 'fund'; amount: number }
  | { kind: 'tenant'; status: 'ACTIVE' | 'CLOSED'; ttlMs: number; observe: boolean };

export const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    // A small key space (the request follows from the key): some reserves replay an earlier one, in
    // the same group or another.
    arbitrary: fc.record({ kind: fc.constant('reserve' as const), key: fc.nat(30) }),
  },
  { weight: 4, arbitrary: commitStep(900) },
  { weight: 2, arbitrary: releaseStep },
  { weight: 1, arbitrary: extendStep },
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

export async function provision(ledger: Ledger): Promise<void> {
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

/**
 * Starts one step (synchronously up to its first await, so the steps of a group share a turn): holds
 * are looked up in `known` (the reservations before the group), new ones are appended to `ids`.
 */
export function start(
  ledger: Ledger,
  current: Step,
  index: number,
  known: string[],
  ids: string[],
): Promise<unknown> {
  const hold = (n: number) => holdAt(known, n);
  const answer = (action: () => Promise<unknown>) => answerOf(action, ids);
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
export function recordCalls(ledger: RedisLedger): Array<{ fn: string; operations: number }> {
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
        for (let i = 0; i < rest.length; i += 2 + Math.abs(Number(rest[i + 1]))) operations++;
      }
      calls.push({ fn: group ? 'group' : fn.replace(/^cycles_[0-9a-f]+_/, ''), operations });
    }
    return call(...args);
  };
  return calls;
}
