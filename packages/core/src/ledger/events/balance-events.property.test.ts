import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../clock.ts';
import type { ReserveRequest } from '../../protocol/types.ts';
import { createMemoryLedger } from '../memory-ledger.ts';

// Model check: random reserves, commits (under and over the hold), releases, expiries and replays on a
// two-level budget. After every step the model reads the real balances; at the end, the alerts must be
// exactly what those balances imply: each threshold rises once iff utilization ever reached it, falls
// once iff it later dropped below, exhaustion once iff remaining ever hit 0, and replays add nothing.

const SCOPES = ['tenant:acme', 'tenant:acme/app:chat'] as const;
const THRESHOLDS = [0.5, 0.8, 0.95];

type Step =
  | { kind: 'reserve'; amount: number }
  | { kind: 'commit'; pick: number; factor: number }
  | { kind: 'release'; pick: number }
  | { kind: 'expire' }
  | { kind: 'replay'; pick: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('reserve' as const), amount: fc.integer({ min: 1, max: 400 }) }),
  fc.record({
    kind: fc.constant('commit' as const),
    pick: fc.nat(),
    factor: fc.double({ min: 0, max: 1.5, noNaN: true }),
  }),
  fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('expire' as const) }),
  fc.record({ kind: fc.constant('replay' as const), pick: fc.nat() }),
);

describe('balance events (model)', () => {
  it('match the balances the ledger went through, with nothing from replays', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), async (steps) => {
        const clock = new ManualClock();
        const ledger = createMemoryLedger({
          clock,
          sweepIntervalMs: 0,
          ledgers: [
            { scope: 'tenant:acme', unit: 'TOKENS', allocated: 1000, overdraftLimit: 200 },
            { scope: 'tenant:acme/app:chat', unit: 'TOKENS', allocated: 600, overdraftLimit: 200 },
          ],
          events: { thresholds: THRESHOLDS },
        });
        const held: { id: string; amount: number }[] = [];
        const done: (() => Promise<unknown>)[] = [];
        const history = new Map<string, { util: number; remaining: number }[]>(SCOPES.map((s) => [s, []]));
        let key = 0;
        const observe = async () => {
          const { balances } = await ledger.getBalances({ tenant: 'acme', includeChildren: true });
          for (const balance of balances) {
            const used = (balance.spent?.amount ?? 0) + (balance.reserved?.amount ?? 0);
            history.get(balance.scopePath!)?.push({
              util: used / balance.allocated!.amount,
              remaining: balance.remaining.amount,
            });
          }
        };
        let replayed = 0;
        for (const next of steps) {
          if (next.kind === 'reserve') {
            const request: ReserveRequest = {
              idempotencyKey: `r${++key}`,
              subject: { tenant: 'acme', app: 'chat' },
              action: { kind: 'llm', name: 'x' },
              estimate: { unit: 'TOKENS', amount: next.amount },
              overagePolicy: 'ALLOW_WITH_OVERDRAFT',
              ttlMs: 1000,
              gracePeriodMs: 0,
            };
            const response = await ledger.reserve(request).catch(() => undefined);
            if (response?.reservationId !== undefined) {
              held.push({ id: response.reservationId, amount: next.amount });
              done.push(() => ledger.reserve(request));
            }
          } else if ((next.kind === 'commit' || next.kind === 'release') && held.length > 0) {
            const [hold] = held.splice(next.pick % held.length, 1);
            const settle =
              next.kind === 'commit'
                ? () =>
                    ledger.commit(hold!.id, {
                      idempotencyKey: `c-${hold!.id}`,
                      actual: { unit: 'TOKENS', amount: Math.round(hold!.amount * next.factor) },
                    })
                : () => ledger.release(hold!.id, { idempotencyKey: `x-${hold!.id}` });
            if (
              await settle().then(
                () => true,
                () => false,
              )
            )
              done.push(settle);
          } else if (next.kind === 'expire') {
            clock.advance(1001);
            held.length = 0;
            await ledger.sweepExpired();
          } else if (next.kind === 'replay' && done.length > 0) {
            const before = (await ledger.events!.list({ limit: 100 })).events.length;
            await done[next.pick % done.length]!().catch(() => undefined);
            replayed += (await ledger.events!.list({ limit: 100 })).events.length - before;
          }
          await observe();
        }
        expect(replayed).toBe(0);
        const events = [];
        for (let cursor: string | undefined, more = true; more; ) {
          const page = await ledger.events!.list({
            sortDir: 'asc',
            limit: 100,
            ...(cursor ? { cursor } : {}),
          });
          events.push(...page.events);
          cursor = page.nextCursor;
          more = page.hasMore;
        }
        for (const scope of SCOPES) {
          const seen = history.get(scope)!;
          const mine = events.filter((event) => event.data?.scope === scope);
          for (const threshold of THRESHOLDS) {
            const crossings = mine
              .filter(
                (event) =>
                  event.event_type === 'budget.threshold_crossed' && event.data!.threshold === threshold,
              )
              .map((event) => event.data!.direction);
            const firstAbove = seen.findIndex((point) => point.util >= threshold);
            const expected: string[] = [];
            if (firstAbove !== -1) {
              expected.push('rising');
              if (seen.slice(firstAbove).some((point) => point.util < threshold)) expected.push('falling');
            }
            expect(crossings, `${scope} at ${threshold}`).toEqual(expected);
          }
          const exhausted = mine.filter((event) => event.event_type === 'budget.exhausted').length;
          expect(exhausted, `${scope} exhausted`).toBe(seen.some((point) => point.remaining <= 0) ? 1 : 0);
        }
        await ledger.close?.();
      }),
      { numRuns: 150 },
    );
  });
});
