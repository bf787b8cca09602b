import { CyclesError, type Ledger } from '@cycles-guard/core';
import type { BalancesQuery, ListReservationsQuery, OveragePolicy } from '@cycles-guard/core/protocol';
import type { ManualClock } from '@cycles-guard/core/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { commitStep, extendStep, releaseStep } from './support/hold-steps.ts';
import { normalize, normalizeText } from './support/normalize-ids.ts';
import { startReferencePair } from './support/reference-pair.ts';
import { expectSameFinalState } from './support/same-final-state.ts';
import { useRedis } from './support/server.ts';
import { holdAt } from './support/step-answer.ts';

// The memory ledger is the reference: the same random operations, on the same manual clock, must get
// the same answers from the Redis ledger: every response (balances included) and every error's code,
// message and details. Ids differ by design (each ledger makes its own), so they are mapped by order.

const redis = useRedis();
const UNIT = 'TOKENS' as const;
const ACTION = { kind: 'llm.completion', name: 'differential' };
const SUBJECTS = [
  { tenant: 'acme' },
  { tenant: 'acme', app: 'chat' },
  { tenant: 'acme', app: 'chat', agent: 'bot' },
  { tenant: 'acme', app: 'search' },
];
const POLICIES: (OveragePolicy | undefined)[] = [
  undefined,
  'REJECT',
  'ALLOW_IF_AVAILABLE',
  'ALLOW_WITH_OVERDRAFT',
];

type Step =
  | { kind: 'reserve'; subject: number; amount: number; policy: number; minimum: boolean; dryRun: boolean }
  | { kind: 'commit'; hold: number; amount: number }
  | { kind: 'release'; hold: number }
  | { kind: 'extend'; hold: number; by: number }
  | { kind: 'event'; subject: number; amount: number; policy: number }
  | { kind: 'decide'; subject: number; amount: number }
  | { kind: 'fund'; scope: number; operation: 'CREDIT' | 'DEBIT' | 'REPAY_DEBT'; amount: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'replay'; step: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('reserve' as const),
      subject: fc.nat(3),
      amount: fc.integer({ min: 1, max: 600 }),
      policy: fc.nat(3),
      minimum: fc.boolean(),
      dryRun: fc.boolean(),
    }),
  },
  { weight: 4, arbitrary: commitStep(800) },
  { weight: 2, arbitrary: releaseStep },
  { weight: 1, arbitrary: extendStep },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('event' as const),
      subject: fc.nat(3),
      amount: fc.nat(400),
      policy: fc.nat(3),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('decide' as const), subject: fc.nat(3), amount: fc.nat(800) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('fund' as const),
      scope: fc.nat(2),
      operation: fc.constantFrom('CREDIT' as const, 'DEBIT' as const, 'REPAY_DEBT' as const),
      amount: fc.nat(500),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.oneof(fc.integer({ min: 0, max: 70_000 }), fc.integer({ min: 0, max: 10_800_000 })),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('replay' as const), step: fc.nat(40) }) },
);

const SCOPES = ['tenant:acme', 'tenant:acme/app:chat', 'tenant:acme/app:search'];

async function provision(ledger: Ledger): Promise<void> {
  await ledger.createLedger({
    scope: SCOPES[0]!,
    unit: UNIT,
    allocated: 3000,
    window: { period: 'hour', timeZone: 'Asia/Kolkata' },
  });
  await ledger.createLedger({
    scope: SCOPES[1]!,
    unit: UNIT,
    allocated: 1500,
    overdraftLimit: 200,
    caps: { maxTokens: 64 },
  });
  await ledger.createLedger({ scope: SCOPES[2]!, unit: UNIT, allocated: 800, commitOveragePolicy: 'REJECT' });
  await ledger.addTemplate({ pattern: 'tenant:*/app:*/agent:*', unit: UNIT, allocated: 400 });
  await ledger.setTenant('acme', { defaultReservationTtlMs: 20_000, maxReservationExtensions: 2 });
}

/**
 * Runs one step with the idempotency keys of step `index` (an earlier index for a replay); returns its
 * answer with ids replaced by their index in `ids`.
 */
async function apply(
  ledger: Ledger,
  ids: string[],
  current: Step,
  index: number,
  clock: ManualClock,
): Promise<unknown> {
  const hold = (n: number) => holdAt(ids, n);
  const key = (name: string, at = index) => `${name}-${at}`;
  const run = async (action: () => Promise<unknown>) => {
    try {
      return { ok: normalize(await action(), ids) };
    } catch (error) {
      if (!CyclesError.isInstance(error)) throw error;
      return {
        error: error.code,
        message: normalizeText(error.message, ids),
        details: normalize(error.details, ids),
      };
    }
  };
  switch (current.kind) {
    case 'reserve':
      return run(async () => {
        const response = await ledger.reserve({
          idempotencyKey: key('reserve'),
          subject: SUBJECTS[current.subject]!,
          action: ACTION,
          estimate: { unit: UNIT, amount: current.amount },
          ...(POLICIES[current.policy] === undefined ? {} : { overagePolicy: POLICIES[current.policy] }),
          ...(current.minimum ? { minimum: Math.ceil(current.amount / 3) } : {}),
          ...(current.dryRun ? { dryRun: true } : {}),
          ...(current.amount % 2 === 0 ? { metadata: { step: index } } : {}),
        });
        if (response.reservationId !== undefined && !ids.includes(response.reservationId))
          ids.push(response.reservationId);
        return response;
      });
    case 'commit':
      return run(() =>
        ledger.commit(hold(current.hold), {
          idempotencyKey: key('commit'),
          actual: { unit: UNIT, amount: current.amount },
          ...(current.amount % 2 === 0 ? { metadata: { committed: current.amount } } : {}),
        }),
      );
    case 'release':
      return run(() => ledger.release(hold(current.hold), { idempotencyKey: key('release') }));
    case 'extend':
      return run(() =>
        ledger.extend(hold(current.hold), { idempotencyKey: key('extend'), extendByMs: current.by }),
      );
    case 'event':
      return run(() =>
        ledger.createEvent({
          idempotencyKey: key('event'),
          subject: SUBJECTS[current.subject]!,
          action: ACTION,
          actual: { unit: UNIT, amount: current.amount },
          ...(POLICIES[current.policy] === undefined ? {} : { overagePolicy: POLICIES[current.policy] }),
        }),
      );
    case 'decide':
      return run(() =>
        ledger.decide({
          idempotencyKey: key('decide'),
          subject: SUBJECTS[current.subject]!,
          action: ACTION,
          estimate: { unit: UNIT, amount: current.amount },
        }),
      );
    case 'fund':
      return run(() =>
        ledger.fund({
          scope: SCOPES[current.scope]!,
          unit: UNIT,
          funding: { operation: current.operation, amount: current.amount },
          idempotencyKey: key('fund'),
        }),
      );
    case 'advance':
      clock.advance(current.ms);
      return run(() => ledger.sweepExpired());
    case 'replay':
      return 'replay steps are resolved by the caller';
  }
}

const listQuery: fc.Arbitrary<ListReservationsQuery> = fc.record(
  {
    tenant: fc.constantFrom('acme', 'ACME'),
    status: fc.constantFrom('ACTIVE', 'COMMITTED', 'RELEASED', 'EXPIRED'),
    app: fc.constantFrom('', 'chat', 'CHAT', 'search'),
    agent: fc.constantFrom('bot'),
    sortBy: fc.constantFrom(
      'reservation_id',
      'scope_path',
      'status',
      'reserved',
      'created_at_ms',
      'expires_at_ms',
    ),
    sortDir: fc.constantFrom('asc', 'desc'),
    include: fc.subarray(['metadata', 'committed_metadata']),
    limit: fc.integer({ min: 1, max: 4 }),
  },
  { requiredKeys: ['tenant'] },
) as fc.Arbitrary<ListReservationsQuery>;

const balancesQuery: fc.Arbitrary<BalancesQuery> = fc.record(
  {
    tenant: fc.constantFrom('acme', 'Acme'),
    app: fc.constantFrom('', 'chat', 'search'),
    agent: fc.constantFrom('bot'),
    limit: fc.integer({ min: 1, max: 3 }),
  },
  { requiredKeys: ['tenant'] },
);

/** Every page of a paged read, following nextCursor. */
async function allPages<T extends { hasMore?: boolean; nextCursor?: string }>(
  read: (cursor: string | undefined) => Promise<T>,
): Promise<T[]> {
  const pages: T[] = [];
  let cursor: string | undefined;
  do {
    const answer = await read(cursor);
    pages.push(answer);
    cursor = answer.nextCursor;
  } while (cursor !== undefined && pages.length < 50);
  return pages;
}

describe('differential: Redis ledger vs memory ledger', () => {
  it('answers every random operation exactly as the memory ledger does (balances on)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 5, maxLength: 40 }),
        listQuery,
        balancesQuery,
        async (steps, query, balances) => {
          const { memory, memoryClock, ledger, redisClock } = await startReferencePair(redis, provision);
          const memoryIds: string[] = [];
          const redisIds: string[] = [];
          for (let index = 0; index < steps.length; index++) {
            // A replay repeats an earlier step with that step's keys (same body: the stored answer).
            let current = steps[index]!;
            let keyIndex = index;
            if (current.kind === 'replay') {
              keyIndex = current.step % Math.max(index, 1);
              current = steps[keyIndex]!;
              if (keyIndex >= index || current.kind === 'advance' || current.kind === 'replay') continue;
            }
            const expected = await apply(memory, memoryIds, current, keyIndex, memoryClock);
            const actual = await apply(ledger, redisIds, current, keyIndex, redisClock);
            expect(actual, `step ${index}: ${JSON.stringify(steps[index])}`).toEqual(expected);
          }
          await expectSameFinalState(ledger, redisIds, memory, memoryIds);
          // A random query through every page: the kit answers on both ledgers, from their own storage.
          expect(
            normalize(await allPages((cursor) => ledger.listReservations({ ...query, cursor })), redisIds),
          ).toEqual(
            normalize(await allPages((cursor) => memory.listReservations({ ...query, cursor })), memoryIds),
          );
          expect(await allPages((cursor) => ledger.getBalances({ ...balances, cursor }))).toEqual(
            await allPages((cursor) => memory.getBalances({ ...balances, cursor })),
          );
          await memory.close?.();
        },
      ),
      { numRuns: 100 },
    );
  }, 300_000);
});
