import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../clock.ts';
import type { ReserveRequest } from '../../protocol/types.ts';
import { createMemoryLedger } from '../memory-ledger.ts';
import type { LedgerEventLog } from './event-log.ts';
import { RateSpikes, rateSettings } from './rate-spikes.ts';

// The one rate-window mechanism behind reservation.denial_rate_spike and reservation.expiry_rate_spike:
// against its rule on random input, bounded in tenants, and the expiry spike end to end on the memory
// ledger (the denial spike's is in memory-ledger-events.test.ts).

const SETTINGS = { threshold: 0.3, windowMs: 10_000, minSamples: 4 };

describe('rate spikes', () => {
  it('fire once per tenant and window, at the first hit that brings hits / samples to the threshold', () => {
    const op = fc.record({
      tenant: fc.constantFrom('a', 'b', undefined),
      kind: fc.constantFrom('sample', 'hit', 'hit-sample'),
      advanceMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 12_000 })),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const clock = new ManualClock(0);
        const spikes = new RateSpikes('expiry_rate', 'reservation.expiry_rate_spike', SETTINGS, clock);
        const model = new Map<string, { window: number; samples: number; hits: number; fired: boolean }>();
        for (const { tenant, kind, advanceMs } of ops) {
          clock.advance(advanceMs);
          const window = Math.floor(clock.now() / SETTINGS.windowMs);
          const key = tenant ?? '__system__';
          let counts = model.get(key);
          if (counts?.window !== window) {
            counts = { window, samples: 0, hits: 0, fired: false };
            model.set(key, counts);
          }
          if (kind === 'sample') {
            counts.samples++;
            spikes.sample(tenant);
            continue;
          }
          counts.hits++;
          if (kind === 'hit-sample') counts.samples++;
          const expected =
            !counts.fired &&
            counts.samples >= SETTINGS.minSamples &&
            counts.hits / counts.samples >= SETTINGS.threshold;
          if (expected) counts.fired = true;
          const spike = spikes.hit(tenant, kind === 'hit-sample');
          expect(spike !== undefined).toBe(expected);
          if (spike !== undefined) {
            expect(spike).toMatchObject({
              type: 'reservation.expiry_rate_spike',
              tenant,
              data: {
                metric: 'expiry_rate',
                threshold_rate: 0.3,
                window_seconds: 10,
                sample_count: counts.samples,
              },
            });
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('counts like a map of windows under a tenant cap, with time moving either way', () => {
    // The counter remembers its last tenant's window; this checks it against plain map bookkeeping when
    // the cap drops windows and a ManualClock goes back and forth between windows.
    const op = fc.record({
      tenant: fc.constantFrom('a', 'b', 'c'),
      hit: fc.boolean(),
      window: fc.integer({ min: 0, max: 3 }),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const clock = new ManualClock(0);
        const spikes = new RateSpikes('denial_rate', 'reservation.denial_rate_spike', SETTINGS, clock, 2);
        const model = new Map<string, { start: number; samples: number; hits: number; fired: boolean }>();
        for (const { tenant, hit, window } of ops) {
          const now = window * SETTINGS.windowMs + 1;
          clock.set(now);
          const start = now - 1;
          let counts = model.get(tenant);
          if (counts === undefined && model.size >= 2) {
            for (const [key, other] of model) if (other.start !== start) model.delete(key);
          }
          if (counts === undefined && model.size >= 2) {
            // Past the cap: not counted (its later hits show it).
            if (hit) expect(spikes.hit(tenant, true)).toBeUndefined();
            else spikes.sample(tenant, now);
            continue;
          }
          if (counts?.start !== start) {
            counts = { start, samples: 0, hits: 0, fired: false };
            model.set(tenant, counts);
          }
          counts.samples++;
          if (!hit) {
            spikes.sample(tenant, now);
            continue;
          }
          counts.hits++;
          const expected =
            !counts.fired &&
            counts.samples >= SETTINGS.minSamples &&
            counts.hits / counts.samples >= SETTINGS.threshold;
          if (expected) counts.fired = true;
          const spike = spikes.hit(tenant, true);
          expect(spike?.data).toEqual(
            expected ? expect.objectContaining({ sample_count: counts.samples }) : undefined,
          );
        }
      }),
      { numRuns: 300 },
    );
  });

  it('bounds the tenants tracked: ended windows go first, and past the cap a new tenant waits a window', () => {
    const clock = new ManualClock(0);
    const spikes = new RateSpikes(
      'denial_rate',
      'reservation.denial_rate_spike',
      { ...SETTINGS, minSamples: 1 },
      clock,
      2,
    );
    expect(spikes.hit('a', true)).toBeDefined();
    expect(spikes.hit('b', true)).toBeDefined();
    // Full with live windows: c is not counted in this window.
    expect(spikes.hit('c', true)).toBeUndefined();
    clock.advance(SETTINGS.windowMs);
    // A new window: the ended ones make room.
    expect(spikes.hit('c', true)).toBeDefined();
  });

  it('refuses bad settings naming the option', () => {
    for (const [options, field] of [
      [{ threshold: 2 }, 'expiryRate.threshold'],
      [{ windowMs: 10 }, 'expiryRate.windowMs'],
      [{ minSamples: 0 }, 'expiryRate.minSamples'],
    ] as const) {
      expect(() => rateSettings('expiryRate', options, 0.05)).toThrow(
        expect.objectContaining({ details: expect.objectContaining({ field }) }),
      );
      expect(() => createMemoryLedger({ events: { expiryRate: options } })).toThrow(/expiryRate/);
    }
  });

  it('reports reservation.expiry_rate_spike on the memory ledger once expiries reach the threshold', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const ledger = createMemoryLedger({
      clock,
      sweepIntervalMs: 0,
      ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1e9 }],
      events: { expiryRate: { threshold: 0.5, minSamples: 4, windowMs: 60_000 }, thresholds: [1] },
    });
    const request = (key: string, ttlMs: number): ReserveRequest => ({
      idempotencyKey: key,
      subject: { tenant: 'acme' },
      action: { kind: 'llm.completion', name: 'm' },
      estimate: { unit: 'TOKENS', amount: 1 },
      ttlMs,
      gracePeriodMs: 0,
    });
    // Four holds in the window; two are left to expire, two are committed.
    const holds = [];
    for (let i = 0; i < 4; i++) holds.push(await ledger.reserve(request(`k${i}`, i < 2 ? 1000 : 30_000)));
    for (const hold of holds.slice(2)) {
      await ledger.commit(hold.reservationId!, {
        idempotencyKey: `c${hold.reservationId}`,
        actual: { unit: 'TOKENS', amount: 1 },
      });
    }
    clock.advance(1001);
    await ledger.sweepExpired();
    const types = (await ledger.events!.list({ sortDir: 'asc' })).events.map((event) => event.event_type);
    expect(types).toEqual(['reservation.expired', 'reservation.expired', 'reservation.expiry_rate_spike']);
    const [spike] = (await ledger.events!.list({ eventType: 'reservation.expiry_rate_spike' })).events;
    expect(spike).toMatchObject({
      tenant_id: 'acme',
      category: 'reservation',
      data: { metric: 'expiry_rate', threshold_rate: 0.5, window_seconds: 60, sample_count: 4 },
    });
    // 2 expiries in the 1.001 s gone by: per minute.
    expect(spike!.data!.current_rate).toBeCloseTo(2 / (1001 / 60_000));
  });

  it('hands every sample and hit to a rate counter when one is set, and fires no spike itself', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const ledger = createMemoryLedger({
      clock,
      sweepIntervalMs: 0,
      ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 10 }],
      events: { expiryRate: { threshold: 0.5, minSamples: 1, windowMs: 60_000 } },
    });
    const log = ledger.events as LedgerEventLog;
    const counted: string[] = [];
    log.setRateCounter({
      sample: (metric, tenant) => counted.push(`sample ${metric} ${tenant}`),
      hit: (metric, tenant) => counted.push(`hit ${metric} ${tenant}`),
    });
    const request = (key: string, amount: number): ReserveRequest => ({
      idempotencyKey: key,
      subject: { tenant: 'acme' },
      action: { kind: 'llm.completion', name: 'm' },
      estimate: { unit: 'TOKENS', amount },
      ttlMs: 1000,
      gracePeriodMs: 0,
    });
    await ledger.reserve(request('granted', 1));
    await expect(ledger.reserve(request('denied', 100))).rejects.toThrow();
    clock.advance(1001);
    await ledger.sweepExpired();
    expect(counted).toEqual([
      'sample denial_rate acme',
      'sample expiry_rate acme',
      'hit denial_rate acme',
      'hit expiry_rate acme',
    ]);
    const types = (await ledger.events!.list({ sortDir: 'asc' })).events.map((event) => event.event_type);
    expect(types).toEqual(['reservation.denied', 'reservation.expired']);
    expect(log.rateSettingsOf('expiry_rate')).toEqual({ threshold: 0.5, minSamples: 1, windowMs: 60_000 });
    expect(log.rateSettingsOf('denial_rate')).toEqual({ threshold: 0.1, minSamples: 20, windowMs: 300_000 });
  });

  it('hands every spend to a rate counter that counts spends, and fires no burn-rate anomaly itself', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const ledger = createMemoryLedger({
      clock,
      sweepIntervalMs: 0,
      ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1000 }],
      events: { burnRate: { windowMs: 60_000, baselineWindows: 1, multiplier: 2 } },
    });
    const log = ledger.events as LedgerEventLog;
    const spends: string[] = [];
    log.setRateCounter({
      sample: () => {},
      hit: () => {},
      spent: ({ scope, unit, amount, remaining }) => spends.push(`${scope} ${unit} ${amount} ${remaining}`),
    });
    const spend = (key: string, amount: number) =>
      ledger.createEvent({
        idempotencyKey: key,
        subject: { tenant: 'acme' },
        action: { kind: 'llm.completion', name: 'm' },
        actual: { unit: 'TOKENS', amount },
      });
    await spend('a', 10);
    clock.advance(60_000);
    await spend('b', 100); // 10x the window before: the log's own windows would fire
    expect(spends).toEqual(['tenant:acme TOKENS 10 990', 'tenant:acme TOKENS 100 890']);
    const types = (await ledger.events!.list({ sortDir: 'asc' })).events.map((event) => event.event_type);
    expect(types).not.toContain('budget.burn_rate_anomaly');
    // Given back, the log's own windows count again.
    log.setRateCounter(undefined);
    clock.advance(60_000);
    await spend('c', 10);
    clock.advance(60_000);
    await spend('d', 100);
    const after = (await ledger.events!.list({ sortDir: 'asc' })).events.map((event) => event.event_type);
    expect(after).toContain('budget.burn_rate_anomaly');
  });
});
