import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.ts';
import { createCycles } from '../cycles.ts';
import type { CyclesEvent, ObservedEvent } from '../events.ts';
import { createMemoryLedger } from '../ledger/memory-ledger.ts';

const SCOPE = 'tenant:acme';
const UNIT = 'USD_MICROCENTS';

function setup(options: { allocated?: number; mode?: 'observe' | 'enforce'; tenantObserves?: boolean } = {}) {
  const clock = new ManualClock();
  const ledger = createMemoryLedger({
    clock,
    sweepIntervalMs: 0,
    ledgers: [{ scope: SCOPE, unit: UNIT, allocated: options.allocated ?? 1000 }],
    tenants: options.tenantObserves ? { acme: { observeMode: true } } : {},
  });
  const events: CyclesEvent[] = [];
  const cycles = createCycles({
    authority: ledger,
    clock,
    subject: { tenant: 'acme' },
    heartbeat: false,
    retry: { attempts: 2, baseDelayMs: 0 },
    ...(options.mode === undefined ? {} : { mode: options.mode }),
    onEvent: (event) => {
      events.push(event);
    },
  });
  const observed = () => events.filter((event): event is ObservedEvent => event.type === 'observed');
  return { ledger, cycles, events, observed };
}

describe("createCycles({ mode: 'observe' })", () => {
  it('never refuses: a call over budget runs unguarded and is reported as a would-be denial', async () => {
    const { ledger, cycles, observed } = setup({ allocated: 100, mode: 'observe' });
    const hold = await cycles.reserve({ estimate: 500 });
    expect(hold.guarded).toBe(false);
    expect(hold.decision).toBe('DENY');
    expect((await ledger.getLedger(SCOPE, UNIT))?.reserved).toBe(0);
    expect(observed()).toMatchObject([
      {
        wouldDeny: true,
        reasonCode: 'BUDGET_EXCEEDED',
        denyDetail: { blockedByScope: SCOPE, budgetRemaining: 100 },
        estimate: 500,
      },
    ]);
    await hold.commit(500);
    // Actual spend is recorded as a debit (capped at what was left: ALLOW_IF_AVAILABLE), never refused.
    const after = await ledger.getLedger(SCOPE, UNIT);
    expect(after).toMatchObject({ spent: 100, remaining: 0, reserved: 0, isOverLimit: true });
  });

  it('records spend so later observations turn into would-be denials as the budget fills', async () => {
    const { cycles, observed } = setup({ allocated: 1000, mode: 'observe' });
    for (let call = 0; call < 5; call++) {
      const hold = await cycles.reserve({ estimate: 300 });
      await hold.commit(300);
    }
    expect(observed().map((event) => event.wouldDeny)).toEqual([false, false, false, true, true]);
    expect(observed()[3]).toMatchObject({
      reasonCode: 'BUDGET_EXCEEDED',
      denyDetail: { budgetRemaining: 100 },
    });
  });

  it('a release records nothing, and each hold settles once', async () => {
    const { ledger, cycles } = setup({ mode: 'observe' });
    const hold = await cycles.reserve({ estimate: 10 });
    const [first, second] = await Promise.all([hold.release(), hold.commit(10)]);
    expect(first).toEqual(second);
    expect((await ledger.getLedger(SCOPE, UNIT))?.spent).toBe(0);
  });

  it("a tenant whose default is to observe gets the same behaviour with mode 'enforce'", async () => {
    const { ledger, cycles, observed } = setup({ allocated: 100, tenantObserves: true });
    const hold = await cycles.reserve({ estimate: 500 });
    expect(hold.guarded).toBe(false);
    expect(observed()).toHaveLength(1);
    expect((await ledger.getLedger(SCOPE, UNIT))?.reserved).toBe(0);
  });

  it('property: in observe mode no reserve ever holds or refuses, and spend equals what was committed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 5000 }),
        fc.array(
          fc.record({
            estimate: fc.integer({ min: 0, max: 2000 }),
            actual: fc.integer({ min: 0, max: 500 }),
          }),
          {
            maxLength: 10,
          },
        ),
        async (allocated, calls) => {
          const { ledger, cycles, observed } = setup({ allocated, mode: 'observe' });
          let committed = 0;
          for (const { estimate, actual } of calls) {
            const hold = await cycles.reserve({ estimate });
            expect((await ledger.getLedger(SCOPE, UNIT))?.reserved).toBe(0);
            const settlement = await hold.commit(actual);
            committed += settlement.status === 'committed' ? settlement.charged : 0;
          }
          const row = await ledger.getLedger(SCOPE, UNIT);
          expect(row?.spent).toBe(committed);
          expect(committed).toBeLessThanOrEqual(allocated);
          expect(observed()).toHaveLength(calls.length);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('refuses an unknown mode with a typed config error naming the option', () => {
    expect(() => createCycles({ mode: 'shadow' as never })).toThrow(/mode must be enforce or observe/);
  });
});
