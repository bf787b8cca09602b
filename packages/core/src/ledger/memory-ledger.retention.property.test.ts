import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.ts';
import { createMemoryLedger } from './memory-ledger.ts';

// Under a tiny record cap and random concurrent interleavings, a retried reserve of a live hold never
// holds twice: `reserved` always equals the sum of the distinct live holds the callers were given.

const ACTION = { kind: 'llm.completion', name: 'model' };

type Step =
  | { op: 'reserve'; key: number; amount: number }
  | { op: 'commit'; key: number }
  | { op: 'decide'; key: number }
  | { op: 'advance'; ms: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('reserve' as const),
      key: fc.nat(8),
      amount: fc.integer({ min: 1, max: 50 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('commit' as const), key: fc.nat(8) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('decide' as const), key: fc.nat(1000) }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 30_000 }) }),
  },
);

describe('memory ledger: live keys under a tiny record cap', () => {
  it('reserved equals the distinct live holds, whatever the interleaving and the cap', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.array(stepArb, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 12 }),
        fc.scheduler(),
        async (cap, batches, scheduler) => {
          const clock = new ManualClock();
          const ledger = createMemoryLedger({
            clock,
            sweepIntervalMs: 0,
            maxIdempotencyRecordsPerTenant: cap,
            ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1_000_000 }],
          });
          // key → the amount first asked for it (a retry must reuse the payload) and the id it got.
          const firstAmount = new Map<number, number>();
          const holds = new Map<string, number>();
          const idOfKey = new Map<number, string>();
          const run = async (step: Step) => {
            if (step.op === 'advance') clock.advance(step.ms);
            else if (step.op === 'decide') {
              await ledger.decide({
                idempotencyKey: `d${step.key}`,
                subject: { tenant: 'acme' },
                action: ACTION,
                estimate: { unit: 'TOKENS', amount: 1 },
              });
            } else if (step.op === 'reserve') {
              const amount = firstAmount.get(step.key) ?? step.amount;
              firstAmount.set(step.key, amount);
              const response = await ledger.reserve({
                idempotencyKey: `r${step.key}`,
                subject: { tenant: 'acme' },
                action: ACTION,
                estimate: { unit: 'TOKENS', amount },
              });
              const id = response.reservationId!;
              const known = idOfKey.get(step.key);
              const detail =
                known === undefined ? undefined : await ledger.getReservation(known).catch(() => undefined);
              // While the earlier hold of this key is live, the retry must be its replay.
              if (detail?.status === 'ACTIVE') expect(id).toBe(known);
              idOfKey.set(step.key, id);
              holds.set(id, amount);
            } else {
              const id = idOfKey.get(step.key);
              if (id === undefined) return;
              await ledger
                .commit(id, { idempotencyKey: `c${id}`, actual: { unit: 'TOKENS', amount: 1 } })
                .catch(() => undefined);
            }
          };
          for (const batch of batches) {
            await scheduler.waitFor(
              Promise.all(batch.map((step) => scheduler.schedule(Promise.resolve()).then(() => run(step)))),
            );
          }
          let live = 0;
          for (const [id, amount] of holds) {
            const detail = await ledger.getReservation(id).catch(() => undefined);
            if (detail?.status === 'ACTIVE') live += amount;
          }
          expect((await ledger.getLedger('tenant:acme', 'TOKENS'))?.reserved).toBe(live);
          await ledger.close?.();
        },
      ),
      { numRuns: 150 },
    );
  });
});
