import { describe, expect, it } from 'vitest';
import { ACTION, reserveRequest, useMemoryLedgers } from '../../../test/support/memory-ledgers.ts';
import { ManualClock } from '../../clock.ts';
import { CyclesError } from '../../protocol/errors.ts';
import { createMemoryLedger } from '../memory-ledger.ts';
import type { Ledger } from '../types.ts';
import type { ProtocolEvent } from './event-types.ts';

const ledgerWith = useMemoryLedgers();

async function all(ledger: Ledger, tenant?: string): Promise<ProtocolEvent[]> {
  const page = await ledger.events!.list({ sortDir: 'asc', limit: 100, ...(tenant ? { tenant } : {}) });
  return page.events;
}

const types = (events: ProtocolEvent[]) => events.map((event) => event.event_type);

describe('memory ledger events', () => {
  it('crosses 80 % and 95 % once each, rising, with the spec payload and the request ids', async () => {
    const ledger = ledgerWith({ ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1000 }] });
    const context = { tenant: 'acme', requestId: 'req-1', traceId: 'a'.repeat(32) };
    const first = await ledger.reserve(reserveRequest(700), context);
    await ledger.commit(first.reservationId!, {
      idempotencyKey: 'c1',
      actual: { unit: 'TOKENS', amount: 700 },
    });
    const second = await ledger.reserve(reserveRequest(150), context);
    await ledger.release(second.reservationId!, { idempotencyKey: 'r1' });
    // Falls back under 95 % and 80 %? No: spent 700 + 0 reserved = 70 %: both fall.
    const third = await ledger.reserve(reserveRequest(150), context);
    await ledger.commit(third.reservationId!, {
      idempotencyKey: 'c3',
      actual: { unit: 'TOKENS', amount: 150 },
    });
    const events = await all(ledger);
    const crossings = events
      .filter((event) => event.event_type === 'budget.threshold_crossed')
      .map((event) => `${event.data!.threshold}:${event.data!.direction}`);
    // Rising 0.8 once (the re-rise after falling does not fire again in the window), falling once.
    expect(crossings).toEqual(['0.8:rising', '0.8:falling']);
    const rising = events.find((event) => event.event_type === 'budget.threshold_crossed')!;
    expect(rising).toMatchObject({
      category: 'budget',
      tenant_id: 'acme',
      scope: 'tenant:acme',
      request_id: 'req-1',
      trace_id: 'a'.repeat(32),
      actor: { type: 'api_key' },
      data: { unit: 'TOKENS', threshold: 0.8, utilization: 0.85, allocated: 1000, spent: 700, reserved: 150 },
    });
  });

  it('reports exhaustion, denial with deny_detail, overage, debt and the over-limit flag both ways', async () => {
    const ledger = ledgerWith({
      ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100, overdraftLimit: 10 }],
    });
    const hold = await ledger.reserve(reserveRequest(100));
    await expect(ledger.reserve(reserveRequest(1))).rejects.toThrow(CyclesError);
    await ledger.commit(
      hold.reservationId!,
      {
        idempotencyKey: 'c',
        actual: { unit: 'TOKENS', amount: 125 },
      },
      undefined,
    );
    const afterCommit = types(await all(ledger));
    expect(afterCommit).toEqual([
      'budget.threshold_crossed',
      'budget.threshold_crossed',
      'budget.exhausted',
      'reservation.denied',
      'reservation.commit_overage',
      'budget.over_limit_entered',
    ]);
    const events = await all(ledger);
    const denied = events.find((event) => event.event_type === 'reservation.denied')!;
    expect(denied.data).toMatchObject({
      reason_code: 'BUDGET_EXCEEDED',
      requested_amount: 1,
      remaining: 0,
      deny_detail: { reason_code: 'BUDGET_EXCEEDED', blocked_by_scope: 'tenant:acme', budget_remaining: 0 },
    });
    expect(events.find((event) => event.event_type === 'reservation.commit_overage')!.data).toMatchObject({
      estimated_amount: 100,
      actual_amount: 125,
      overage: 25,
      overage_policy: 'ALLOW_IF_AVAILABLE',
      debt_incurred: 0,
    });
    await ledger.fund({
      scope: 'tenant:acme',
      unit: 'TOKENS',
      funding: { operation: 'CREDIT', amount: 100 },
    });
    expect(types(await all(ledger)).at(-1)).toBe('budget.over_limit_exited');
  });

  it('reports debt an overdraft commit created, with its reservation and policy', async () => {
    const ledger = ledgerWith({
      ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100, overdraftLimit: 50 }],
    });
    const hold = await ledger.reserve(reserveRequest(100, { overagePolicy: 'ALLOW_WITH_OVERDRAFT' }));
    await ledger.commit(hold.reservationId!, {
      idempotencyKey: 'c',
      actual: { unit: 'TOKENS', amount: 120 },
    });
    const events = await all(ledger);
    expect(events.find((event) => event.event_type === 'budget.debt_incurred')!.data).toMatchObject({
      reservation_id: hold.reservationId,
      debt_incurred: 20,
      total_debt: 20,
      overdraft_limit: 50,
      overage_policy: 'ALLOW_WITH_OVERDRAFT',
    });
    expect(events.find((event) => event.event_type === 'reservation.commit_overage')!.data).toMatchObject({
      debt_incurred: 20,
    });
  });

  it('reports an expired hold with its reservation', async () => {
    const clock = new ManualClock();
    const ledger = ledgerWith({
      clock,
      ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1000 }],
    });
    const hold = await ledger.reserve(reserveRequest(10, { ttlMs: 1000, gracePeriodMs: 0 }));
    clock.advance(1001);
    await ledger.sweepExpired();
    const expired = (await all(ledger)).find((event) => event.event_type === 'reservation.expired')!;
    expect(expired.data).toMatchObject({
      reservation_id: hold.reservationId,
      estimated_amount: 10,
      ttl_ms: 1000,
      extensions_used: 0,
      scope: 'tenant:acme/app:chat',
    });
  });

  it('reports the window reset with the spend it cleared, and alerts again in the new window', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 10));
    const ledger = ledgerWith({
      clock,
      ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100, window: { period: 'hour' } }],
    });
    let commits = 0;
    const charge = async (amount: number) => {
      const hold = await ledger.reserve(reserveRequest(amount));
      await ledger.commit(hold.reservationId!, {
        idempotencyKey: `c${++commits}`,
        actual: { unit: 'TOKENS', amount },
      });
    };
    await charge(85);
    clock.advance(3_600_000);
    await charge(85);
    const events = await all(ledger);
    // 85 in one 5-minute window against a mean of 85 / 12 over the hour before: a burn-rate anomaly too.
    expect(types(events)).toEqual([
      'budget.threshold_crossed',
      'budget.reset_spent',
      'budget.threshold_crossed',
      'budget.burn_rate_anomaly',
    ]);
    expect(events[1]!.data).toMatchObject({ previous_state: { spent: 85 }, new_state: { spent: 0 } });
  });

  it('emits nothing new when reserve, commit, release and events are replayed with their keys', async () => {
    const ledger = ledgerWith({ ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 }] });
    const request = reserveRequest(90);
    const hold = await ledger.reserve(request);
    const commit = { idempotencyKey: 'c', actual: { unit: 'TOKENS' as const, amount: 95 } };
    await ledger.commit(hold.reservationId!, commit);
    const event = {
      idempotencyKey: 'e',
      subject: { tenant: 'acme' },
      action: ACTION,
      actual: { unit: 'TOKENS' as const, amount: 5 },
    };
    await ledger.createEvent(event);
    const before = (await all(ledger)).length;
    expect(before).toBeGreaterThan(0);
    await ledger.reserve(request);
    await ledger.commit(hold.reservationId!, commit);
    await ledger.createEvent(event);
    expect((await all(ledger)).length).toBe(before);
  });

  it('reports observe-mode evaluations as observed_denied / observed_allowed', async () => {
    const ledger = ledgerWith({ ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 }] });
    await ledger.reserve(reserveRequest(50, { dryRun: true, observeMode: true }));
    await ledger.reserve(reserveRequest(500, { dryRun: true, observeMode: true }));
    await ledger.reserve(reserveRequest(500, { dryRun: true, observeMode: true }));
    const events = await all(ledger);
    expect(types(events)).toEqual([
      'reservation.observed_allowed',
      'reservation.observed_denied',
      'reservation.observed_denied',
    ]);
    expect(events[0]!.data).toMatchObject({
      decision: 'ALLOW',
      observe_mode: 'OBSERVE',
      estimated_amount: 50,
    });
    expect(events[1]!.data).toMatchObject({ deny_detail: { reason_code: 'BUDGET_EXCEEDED' } });
    // PEXT: a deterministic correlation id over (tenant, scope, action kind, window, reason).
    expect(events[1]!.correlation_id).toMatch(/^[0-9a-f]{32}$/);
    expect(events[2]!.correlation_id).toBe(events[1]!.correlation_id);
    // A plain dry run reports nothing.
    await ledger.reserve(reserveRequest(500, { dryRun: true }));
    expect((await all(ledger)).length).toBe(3);
  });

  it("reports the tenant's default observe mode too, and a request's ENFORCE holds without an event", async () => {
    const ledger = ledgerWith({
      ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 }],
      tenants: { acme: { observeMode: true } },
    });
    const allowed = await ledger.reserve(reserveRequest(50));
    const denied = await ledger.reserve(reserveRequest(500));
    expect([allowed.reservationId, denied.decision]).toEqual([undefined, 'DENY']);
    expect(types(await all(ledger))).toEqual(['reservation.observed_allowed', 'reservation.observed_denied']);
    const held = await ledger.reserve(reserveRequest(10, { observeMode: false }));
    expect(held.reservationId).toBeDefined();
    expect(types(await all(ledger)).filter((type) => type.startsWith('reservation.observed'))).toHaveLength(
      2,
    );
  });

  it('fires a denial-rate spike once per window', async () => {
    const ledger = ledgerWith({
      ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 10 }],
      events: { denialRate: { threshold: 0.5, minSamples: 4 } },
    });
    for (let i = 0; i < 8; i++) await ledger.reserve(reserveRequest(20)).catch(() => undefined);
    const spikes = (await all(ledger)).filter(
      (event) => event.event_type === 'reservation.denial_rate_spike',
    );
    expect(spikes).toHaveLength(1);
    expect(spikes[0]!.data).toMatchObject({ metric: 'denial_rate', threshold_rate: 0.5, sample_count: 4 });
  });

  it('uses per-template thresholds, and refuses bad ones naming the option', async () => {
    const ledger = ledgerWith({
      templates: [{ pattern: 'tenant:*', unit: 'TOKENS', allocated: 100 }],
      events: { thresholdRules: [{ pattern: 'tenant:*', thresholds: [0.5] }] },
    });
    await ledger.reserve(reserveRequest(60));
    const crossings = (await all(ledger)).filter((event) => event.event_type === 'budget.threshold_crossed');
    expect(crossings.map((event) => event.data!.threshold)).toEqual([0.5]);
    expect(() => createMemoryLedger({ events: { thresholds: [1.5] } })).toThrow(/thresholds must be/);
    expect(() =>
      createMemoryLedger({ events: { thresholdRules: [{ pattern: '', thresholds: [0.5] }] } }),
    ).toThrow(/thresholdRules\[0\]\.pattern/);
  });

  it('is off with events: false', async () => {
    const ledger = ledgerWith({
      events: false,
      ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1 }],
    });
    expect(ledger.events).toBeUndefined();
    await expect(ledger.reserve(reserveRequest(1))).resolves.toMatchObject({ decision: 'ALLOW' });
  });

  it('tells onEvent of every stored event', async () => {
    const seen: string[] = [];
    const ledger = ledgerWith({
      ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 10 }],
      events: {
        onEvent: (event) => {
          seen.push(event.event_id);
          throw new Error('a listener that throws changes nothing');
        },
      },
    });
    await ledger.reserve(reserveRequest(9));
    expect(seen).toEqual((await all(ledger)).map((event) => event.event_id));
    expect(seen.length).toBeGreaterThan(0);
  });
});
