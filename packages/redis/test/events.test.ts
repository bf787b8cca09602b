import type { ReserveRequest } from '@cycles-guard/core/protocol';
import { expectedBurnAnomalies, ManualClock, type ModelSpend } from '@cycles-guard/core/testing';
import type { ProtocolEvent } from '@cycles-guard/core/webhooks';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { RedisLedger } from '../src/index.ts';
import { useRedis } from './support/server.ts';
import { settledEvents } from './support/settled-events.ts';

// The Redis ledger's events, on a real redis-server: the same derivation as the memory ledger, stored in
// Redis (every instance lists them), alerts fired once across instances, replays emitting nothing.

const redis = useRedis();
let keys = 0;

function reserveRequest(amount: number, extra: Partial<ReserveRequest> = {}): ReserveRequest {
  return {
    idempotencyKey: `k${++keys}`,
    subject: { tenant: 'acme' },
    action: { kind: 'llm.completion', name: 'm' },
    estimate: { unit: 'TOKENS', amount },
    ...extra,
  };
}

/** Every stored event, oldest first, once the fire-and-forget appends have landed. */
async function stored(ledger: RedisLedger, expected?: number): Promise<ProtocolEvent[]> {
  for (let waited = 0; ; waited += 20) {
    const page = await ledger.events!.list({ sortDir: 'asc', limit: 100 });
    if (expected === undefined ? waited >= 200 : page.events.length >= expected || waited >= 3000)
      return page.events;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const types = (events: ProtocolEvent[]) => events.map((event) => event.event_type);

describe('Redis ledger events', () => {
  it('reports thresholds, exhaustion, denial with deny_detail and overage, stored in Redis', async () => {
    const prefix = redis.prefix();
    const ledger = redis.ledger({ keyPrefix: prefix, sweepIntervalMs: 0, events: {} });
    await ledger.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100, overdraftLimit: 50 });
    const hold = await ledger.reserve(reserveRequest(100, { overagePolicy: 'ALLOW_WITH_OVERDRAFT' }), {
      tenant: 'acme',
      requestId: 'req-9',
      traceId: 'c'.repeat(32),
    });
    expect(hold.balances).toBeUndefined();
    await expect(ledger.reserve(reserveRequest(1))).rejects.toMatchObject({ code: 'BUDGET_EXCEEDED' });
    await ledger.commit(hold.reservationId!, {
      idempotencyKey: 'c',
      actual: { unit: 'TOKENS', amount: 120 },
    });
    const events = await stored(ledger, 6);
    expect(types(events)).toEqual(
      [
        'budget.threshold_crossed',
        'budget.threshold_crossed',
        'budget.exhausted',
        'reservation.denied',
        'reservation.commit_overage',
        'budget.debt_incurred',
      ].slice(0, events.length),
    );
    expect(events.length).toBe(6);
    expect(events[0]).toMatchObject({
      request_id: 'req-9',
      trace_id: 'c'.repeat(32),
      data: { threshold: 0.8 },
    });
    expect(events[3]!.data).toMatchObject({
      deny_detail: { reason_code: 'BUDGET_EXCEEDED', blocked_by_scope: 'tenant:acme' },
    });
    expect(events[4]!.data).toMatchObject({
      estimated_amount: 100,
      actual_amount: 120,
      overage: 20,
      debt_incurred: 20,
    });
    expect(events[5]!.data).toMatchObject({
      debt_incurred: 20,
      total_debt: 20,
      reservation_id: hold.reservationId,
    });
    // Another instance on the same Redis lists the same events and reads one by id.
    const other = redis.ledger({ keyPrefix: prefix, sweepIntervalMs: 0, events: {} });
    expect((await other.events!.list({ sortDir: 'asc' })).events).toEqual(events);
    expect(await other.events!.get(events[3]!.event_id)).toEqual(events[3]);
  });

  it("reports observed evaluations, by the request's choice or the tenant's default", async () => {
    const prefix = redis.prefix();
    const ledger = redis.ledger({ keyPrefix: prefix, sweepIntervalMs: 0, events: {} });
    await ledger.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 });
    await ledger.reserve(reserveRequest(500, { observeMode: true }));
    await ledger.setTenant('acme', { observeMode: true });
    const allowed = await ledger.reserve(reserveRequest(50));
    const denied = await ledger.reserve(reserveRequest(500));
    expect([allowed.reservationId, denied.decision]).toEqual([undefined, 'DENY']);
    expect(types(await stored(ledger, 3))).toEqual([
      'reservation.observed_denied',
      'reservation.observed_allowed',
      'reservation.observed_denied',
    ]);
  });

  it('are off unless the events option asks for them (they cost CPU on every operation)', () => {
    expect(redis.ledger({ keyPrefix: redis.prefix(), sweepIntervalMs: 0 }).events).toBeUndefined();
  });

  it('emits nothing new for replayed reserves, commits and releases', async () => {
    const prefix = redis.prefix();
    const ledger = redis.ledger({ keyPrefix: prefix, sweepIntervalMs: 0, events: {} });
    await ledger.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 });
    const first = reserveRequest(90);
    const hold = await ledger.reserve(first);
    const second = reserveRequest(5);
    const small = await ledger.reserve(second);
    await ledger.release(small.reservationId!, { idempotencyKey: 'r' });
    await ledger.commit(hold.reservationId!, { idempotencyKey: 'c', actual: { unit: 'TOKENS', amount: 90 } });
    const before = await stored(ledger);
    expect(before.length).toBeGreaterThan(0);
    await ledger.reserve(first);
    await ledger.reserve(second);
    await ledger.release(small.reservationId!, { idempotencyKey: 'r' });
    await ledger.commit(hold.reservationId!, { idempotencyKey: 'c', actual: { unit: 'TOKENS', amount: 90 } });
    expect(await stored(ledger)).toEqual(before);
  });

  it('fires a threshold once across two instances sharing the budget', async () => {
    const prefix = redis.prefix();
    const a = redis.ledger({ keyPrefix: prefix, sweepIntervalMs: 0, events: {} });
    const b = redis.ledger({ keyPrefix: prefix, sweepIntervalMs: 0, events: {} });
    await a.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 });
    // a crosses 80 % and releases; b crosses it again in the same window: one rising alert in all.
    const hold = await a.reserve(reserveRequest(85));
    await a.release(hold.reservationId!, { idempotencyKey: 'x' });
    await b.reserve(reserveRequest(85));
    const rising = (await stored(a)).filter(
      (event) =>
        event.event_type === 'budget.threshold_crossed' &&
        event.data!.direction === 'rising' &&
        event.data!.threshold === 0.8,
    );
    expect(rising).toHaveLength(1);
  });

  it('keeps each tenant’s events in its own bounded, tenant-keyed log', async () => {
    const prefix = redis.prefix();
    const ledger = redis.ledger({ keyPrefix: prefix, sweepIntervalMs: 0, events: { thresholds: [0.5] } });
    await ledger.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 10 });
    await ledger.reserve(reserveRequest(6));
    await stored(ledger, 1);
    const keysFound = await ledger.client.keys(`${prefix}events:*`);
    expect(keysFound).toContain(`${prefix}events:{acme}:log`);
    expect(await ledger.events!.list({ tenant: 'other' })).toEqual({ events: [], hasMore: false });
  });
});

describe('Redis ledger derived events', () => {
  it('reports a dry run of a tenant observing by default as observed, as the memory ledger does', async () => {
    const ledger = redis.ledger({ sweepIntervalMs: 0, events: {} });
    await ledger.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 });
    const admin = new Redis(redis.server.url);
    await admin.config('RESETSTAT');
    // Enforcing: a plain dry run reports nothing.
    await ledger.reserve(reserveRequest(500, { dryRun: true }));
    await ledger.setTenant('acme', { observeMode: true });
    await ledger.reserve(reserveRequest(500, { dryRun: true }));
    await ledger.reserve(reserveRequest(50, { dryRun: true }));
    // The request's own ENFORCE wins over the tenant's default: no event.
    await ledger.reserve(reserveRequest(500, { dryRun: true, observeMode: false }));
    const events = await settledEvents(ledger);
    expect(types(events)).toEqual(['reservation.observed_denied', 'reservation.observed_allowed']);
    // The reserve script read the tenant's default and said so: no read of the settings after it.
    const commands = await admin.info('commandstats');
    admin.disconnect();
    expect(commands).toContain('cmdstat_fcall:');
    expect(commands).not.toContain('cmdstat_hgetall:');
    expect(events[0]!.data).toMatchObject({
      observe_mode: 'OBSERVE',
      deny_detail: { reason_code: 'BUDGET_EXCEEDED' },
    });
  });

  it('fires a denial-rate spike once per window', async () => {
    const ledger = redis.ledger({
      sweepIntervalMs: 0,
      events: { denialRate: { threshold: 0.5, minSamples: 4 } },
    });
    await ledger.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 10 });
    for (let i = 0; i < 8; i++) await ledger.reserve(reserveRequest(20)).catch(() => undefined);
    const spikes = (await stored(ledger, 9)).filter(
      (event) => event.event_type === 'reservation.denial_rate_spike',
    );
    expect(spikes).toHaveLength(1);
    expect(spikes[0]!.data).toMatchObject({ metric: 'denial_rate', threshold_rate: 0.5, sample_count: 4 });
  });

  it('fires the burn-rate anomaly exactly when the rule says', async () => {
    const rule = { multiplier: 2, windowMs: 60_000, baselineWindows: 3 };
    const step = fc.record({
      app: fc.boolean(),
      amount: fc.integer({ min: 1, max: 100 }),
      viaCommit: fc.boolean(),
      advanceMs: fc.oneof(fc.integer({ min: 0, max: 30_000 }), fc.integer({ min: 0, max: 6 * 60_000 })),
    });
    let seen = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), async (steps) => {
        const clock = new ManualClock(Date.UTC(2026, 0, 1));
        const ledger = redis.ledger({
          sweepIntervalMs: 0,
          clock,
          events: { burnRate: rule, thresholds: [1] },
        });
        await ledger.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1e12 });
        await ledger.createLedger({ scope: 'tenant:acme/app:chat', unit: 'TOKENS', allocated: 1e12 });
        const spends: ModelSpend[] = [];
        for (const { app, amount, viaCommit, advanceMs } of steps) {
          clock.advance(advanceMs);
          const subject = app ? { tenant: 'acme', app: 'chat' } : { tenant: 'acme' };
          if (viaCommit) {
            const hold = await ledger.reserve(reserveRequest(amount, { subject }));
            await ledger.commit(hold.reservationId!, {
              idempotencyKey: `c${keys}`,
              actual: { unit: 'TOKENS', amount },
            });
          } else {
            await ledger.createEvent({
              idempotencyKey: `e${++keys}`,
              subject,
              action: { kind: 'llm.completion', name: 'm' },
              actual: { unit: 'TOKENS', amount },
            });
          }
          for (const scope of app ? ['tenant:acme', 'tenant:acme/app:chat'] : ['tenant:acme'])
            spends.push({ atMs: clock.now(), scope, amount });
        }
        const expected = expectedBurnAnomalies(spends, rule);
        const events = (await settledEvents(ledger)).filter(
          (event) => event.event_type === 'budget.burn_rate_anomaly',
        );
        expect(
          events.map((event) => ({
            scope: event.scope,
            windowStartMs: Number(event.correlation_id!.split(':').at(-1)),
          })),
        ).toEqual(expected);
        seen += expected.length;
      }),
      { numRuns: 12 },
    );
    expect(seen).toBeGreaterThan(0);
  });
});
