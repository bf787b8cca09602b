import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../clock.ts';
import { createCycles } from '../../cycles.ts';
import { createMemoryLedger } from '../../ledger/memory-ledger.ts';
import { flakyAuthority } from '../__fixtures__/flaky-authority.ts';

// Randomized: holds settled through an authority that loses requests (before or after applying them)
// on commit, release and event, some past their expiry. Once the outbox is flushed, every commit is
// charged exactly once and every hold is back: spent = Σ committed, reserved = 0.

const SCOPE = 'tenant:acme';
const UNIT = 'USD_MICROCENTS';

const fault = fc.record({ times: fc.nat(6), when: fc.constantFrom('before' as const, 'after' as const) });
const step = fc.record({
  estimate: fc.integer({ min: 1, max: 5_000 }),
  actual: fc.option(fc.integer({ min: 0, max: 5_000 }), { nil: undefined }), // undefined: release
  expireFirst: fc.boolean(),
});

describe('settlement outbox (property)', () => {
  it('charges every commit exactly once and returns every hold, whatever is lost on the way', async () => {
    await fc.assert(
      fc.asyncProperty(
        fault,
        fault,
        fault,
        fc.array(step, { minLength: 1, maxLength: 8 }),
        async (commit, release, event, steps) => {
          const clock = new ManualClock();
          const ledger = createMemoryLedger({
            clock,
            sweepIntervalMs: 0,
            ledgers: [{ scope: SCOPE, unit: UNIT, allocated: 1_000_000, overdraftLimit: 1_000_000 }],
          });
          const cycles = createCycles({
            authority: flakyAuthority(ledger, { commit, release, createEvent: event }),
            clock,
            subject: { tenant: 'acme' },
            heartbeat: false,
            ttlMs: 60_000,
            gracePeriodMs: 0,
            overagePolicy: 'ALLOW_WITH_OVERDRAFT',
            retry: { attempts: 2, baseDelayMs: 0 },
            outbox: {
              identity: 'property',
              directory: await mkdtemp(join(tmpdir(), 'cycles-outbox-prop-')),
              replayIntervalMs: 10,
            },
          });
          let expected = 0;
          for (const { estimate, actual, expireFirst } of steps) {
            const hold = await cycles.reserve({ estimate });
            if (expireFirst) clock.advance(61_000);
            if (actual === undefined) await hold.release().catch(() => {});
            else {
              expected += actual;
              await hold.commit(actual).catch(() => {});
            }
          }
          expect(await cycles.flushSettlements(10_000)).toEqual({ pending: 0 });
          clock.advance(61_000); // anything still held (a release that expired) goes back
          expect(await ledger.getLedger(SCOPE, UNIT)).toMatchObject({ spent: expected, reserved: 0 });
          await cycles.close();
        },
      ),
      { numRuns: 40 },
    );
  });
});
