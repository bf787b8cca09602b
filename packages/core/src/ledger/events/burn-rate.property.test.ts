import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../clock.ts';
import { expectedBurnAnomalies, type ModelSpend } from '../../testing/burn-rate-model.ts';
import { createMemoryLedger } from '../memory-ledger.ts';
import type { Ledger } from '../types.ts';
import { BurnRates, type BurnState, burnSettings } from './burn-rate.ts';

// The burn-rate anomaly against its rule written out plainly (core ./testing): random spends (commits and
// direct debits) on random scopes at random times, on a ManualClock, fire exactly the anomalies the rule
// expects, in order. Then the bounds: a tenant making many scopes is capped, and never affects another.

const RULE = { multiplier: 2, windowMs: 60_000, baselineWindows: 3 };
const ACTION = { kind: 'llm.completion', name: 'm' };
const SUBJECTS = [{ tenant: 'acme' }, { tenant: 'acme', app: 'chat' }, { tenant: 'beta' }];
const pathOf = (subject: (typeof SUBJECTS)[number]) =>
  subject.app === undefined
    ? [`tenant:${subject.tenant}`]
    : [`tenant:${subject.tenant}`, `tenant:${subject.tenant}/app:${subject.app}`];

const step = fc.record({
  subject: fc.nat(SUBJECTS.length - 1),
  amount: fc.integer({ min: 1, max: 100 }),
  viaCommit: fc.boolean(),
  // Mostly within a window, sometimes across one or several, now and then past a whole baseline.
  advanceMs: fc.oneof(fc.integer({ min: 0, max: 30_000 }), fc.integer({ min: 0, max: 6 * 60_000 })),
});

function ledgerOn(clock: ManualClock): Ledger {
  return createMemoryLedger({
    clock,
    sweepIntervalMs: 0,
    ledgers: [
      { scope: 'tenant:acme', unit: 'TOKENS', allocated: 1e12 },
      { scope: 'tenant:acme/app:chat', unit: 'TOKENS', allocated: 1e12 },
      { scope: 'tenant:beta', unit: 'TOKENS', allocated: 1e12 },
    ],
    events: { burnRate: RULE, thresholds: [1] },
  });
}

describe('budget.burn_rate_anomaly', () => {
  it('fires exactly when the rule says, on the memory ledger', async () => {
    let seen = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 60 }), async (steps) => {
        const clock = new ManualClock(Date.UTC(2026, 0, 1));
        const ledger = ledgerOn(clock);
        const spends: ModelSpend[] = [];
        let key = 0;
        for (const { subject: index, amount, viaCommit, advanceMs } of steps) {
          clock.advance(advanceMs);
          const subject = SUBJECTS[index]!;
          const context = { tenant: subject.tenant };
          if (viaCommit) {
            const hold = await ledger.reserve(
              { idempotencyKey: `r${++key}`, subject, action: ACTION, estimate: { unit: 'TOKENS', amount } },
              context,
            );
            await ledger.commit(
              hold.reservationId!,
              { idempotencyKey: `c${key}`, actual: { unit: 'TOKENS', amount } },
              context,
            );
          } else {
            await ledger.createEvent(
              { idempotencyKey: `e${++key}`, subject, action: ACTION, actual: { unit: 'TOKENS', amount } },
              context,
            );
          }
          for (const scope of pathOf(subject)) spends.push({ atMs: clock.now(), scope, amount });
        }
        const page = await ledger.events!.list({
          eventType: 'budget.burn_rate_anomaly',
          sortDir: 'asc',
          limit: 100,
        });
        const fired = page.events.map((event) => ({
          scope: event.scope,
          windowStartMs: Number(event.correlation_id!.split(':').at(-1)),
        }));
        expect(fired).toEqual(expectedBurnAnomalies(spends, RULE));
        seen += fired.length;
        await ledger.close?.();
      }),
      { numRuns: 60 },
    );
    // Not vacuous: the runs did set anomalies off.
    expect(seen).toBeGreaterThan(10);
  });

  it('reports the rates per minute, their ratio and the projected exhaustion', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const ledger = createMemoryLedger({
      clock,
      sweepIntervalMs: 0,
      ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 10_000 }],
      events: { burnRate: { multiplier: 3, windowMs: 60_000, baselineWindows: 2 }, thresholds: [1] },
    });
    const spend = (amount: number) =>
      ledger.createEvent(
        {
          idempotencyKey: `e${clock.now()}-${amount}`,
          subject: { tenant: 'acme' },
          action: ACTION,
          actual: { unit: 'TOKENS', amount },
        },
        { tenant: 'acme' },
      );
    await spend(100);
    clock.advance(60_000);
    await spend(200); // baseline 100 per minute: 200 is under 3x
    clock.advance(60_000);
    await spend(449); // baseline (100 + 200) / 2 = 150: fires at 450
    await spend(1);
    await spend(1000); // once per window
    const events = (await ledger.events!.list({ eventType: 'budget.burn_rate_anomaly' })).events;
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      tenant_id: 'acme',
      scope: 'tenant:acme',
      category: 'budget',
      data: {
        scope: 'tenant:acme',
        unit: 'TOKENS',
        current_rate: 450,
        baseline_rate: 150,
        multiplier: 3,
        window_seconds: 60,
        projected_exhaustion_minutes: (10_000 - 750) / 450,
      },
    });
  });

  it('bounds the scopes a tenant may have watched, never touching another tenant', () => {
    const clock = new ManualClock(0);
    const rates = new BurnRates(
      burnSettings({ windowMs: 60_000, baselineWindows: 1, multiplier: 2, maxScopesPerTenant: 3 }),
      clock,
    );
    // Each scope's event state caches its burn state, as the ledgers' derivation does.
    const holders = new Map<string, { burn?: BurnState | undefined }>();
    const spend = (scope: string, amount: number) => {
      if (!holders.has(scope)) holders.set(scope, {});
      return rates.spent({ scope, unit: 'TOKENS', amount, remaining: 1e9 }, holders.get(scope));
    };
    spend('tenant:good/app:a', 10);
    for (let i = 0; i < 10; i++) spend(`tenant:bad/app:${i}`, 10);
    clock.advance(60_000);
    // The fourth scope of `bad` was never watched: no anomaly for it, while its first three and `good`'s do.
    expect(spend('tenant:bad/app:3', 100)).toBeUndefined();
    expect(spend('tenant:bad/app:0', 100)?.type).toBe('budget.burn_rate_anomaly');
    expect(spend('tenant:good/app:a', 100)?.type).toBe('budget.burn_rate_anomaly');
    // Once a watched scope is idle for a whole baseline it is forgotten, and a new one takes its place.
    clock.advance(3 * 60_000);
    spend('tenant:bad/app:9', 10);
    clock.advance(60_000);
    expect(spend('tenant:bad/app:9', 100)?.type).toBe('budget.burn_rate_anomaly');
    // A forgotten scope's cached state is dropped too: it comes back as new (no baseline yet).
    expect(holders.get('tenant:bad/app:1')!.burn?.forgotten).toBe(true);
    expect(spend('tenant:bad/app:1', 1000)).toBeUndefined();
  });

  it('refuses bad settings naming the option, and is off with burnRate: false', () => {
    for (const [burnRate, field] of [
      [{ multiplier: 1.2 }, 'burnRate.multiplier'],
      [{ windowMs: 1000 }, 'burnRate.windowMs'],
      [{ baselineWindows: 0 }, 'burnRate.baselineWindows'],
      [{ maxScopesPerTenant: -1 }, 'burnRate.maxScopesPerTenant'],
    ] as const) {
      expect(() => createMemoryLedger({ events: { burnRate } }), field).toThrow(
        expect.objectContaining({ details: expect.objectContaining({ field }) }),
      );
    }
  });

  it('is off with burnRate: false', async () => {
    const clock = new ManualClock(0);
    const ledger = createMemoryLedger({
      clock,
      sweepIntervalMs: 0,
      ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1e9 }],
      events: { burnRate: false, thresholds: [1] },
    });
    for (const amount of [10, 10_000]) {
      await ledger.createEvent(
        {
          idempotencyKey: `e${amount}`,
          subject: { tenant: 'acme' },
          action: ACTION,
          actual: { unit: 'TOKENS', amount },
        },
        { tenant: 'acme' },
      );
      clock.advance(300_000);
    }
    expect((await ledger.events!.list({ eventType: 'budget.burn_rate_anomaly' })).events).toEqual([]);
    expect((await ledger.events!.list({})).events).toEqual([]);
  });
});
