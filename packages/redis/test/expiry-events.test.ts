import { createMemoryLedger, type Ledger } from '@cycles-guard/core';
import { ManualClock } from '@cycles-guard/core/testing';
import type { ProtocolEvent } from '@cycles-guard/core/webhooks';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { RedisLedger } from '../src/index.ts';
import { listAllEvents } from './support/list-all-events.ts';
import { useRedis } from './support/server.ts';

// reservation.expired on Redis: the scripts hand back every hold they expire (lazily before an
// operation, or in the sweep) when events are on, and the ledger emits one event each, as the memory
// ledger does. With events off the scripts keep nothing about them.

const redis = useRedis();

const SCOPES = ['tenant:acme', 'tenant:acme/app:chat'];
const subject = { tenant: 'acme', app: 'chat' };

type Step =
  | { kind: 'reserve'; amount: number; ttlMs: number; graceMs: number }
  | { kind: 'commit'; index: number }
  | { kind: 'extend'; index: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'sweep' };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('reserve' as const),
    amount: fc.integer({ min: 1, max: 40 }),
    ttlMs: fc.integer({ min: 1000, max: 6000 }),
    graceMs: fc.integer({ min: 0, max: 2000 }),
  }),
  fc.record({ kind: fc.constant('commit' as const), index: fc.nat(20) }),
  fc.record({ kind: fc.constant('extend' as const), index: fc.nat(20) }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 7000 }) }),
  fc.constant({ kind: 'sweep' as const }),
);

/** Every stored event, oldest first, once the fire-and-forget appends have stopped arriving. */
async function allEvents(ledger: Ledger): Promise<ProtocolEvent[]> {
  let last = -1;
  for (;;) {
    const events = await listAllEvents(ledger);
    if (events.length === last) return events;
    last = events.length;
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
}

/** The expiry events with each ledger's own reservation ids replaced by the reserve's position. */
function expiries(events: ProtocolEvent[], ids: string[]) {
  return events
    .filter((event) => event.event_type === 'reservation.expired')
    .map((event) => {
      const data = { ...event.data! };
      data.reservation_id = ids.indexOf(data.reservation_id as string);
      return {
        tenant: event.tenant_id,
        scope: event.scope,
        correlation: ids.indexOf(event.correlation_id!),
        data,
      };
    })
    .sort((a, b) => a.correlation - b.correlation);
}

/** Runs the steps on one ledger; answers its reservation ids in reserve order. */
async function play(ledger: Ledger, clock: ManualClock, steps: Step[]): Promise<string[]> {
  const ids: string[] = [];
  let key = 0;
  const settle = (promise: Promise<unknown>) => promise.catch(() => undefined);
  for (const s of steps) {
    key += 1;
    if (s.kind === 'reserve') {
      const answer = await settle(
        ledger.reserve({
          idempotencyKey: `r${key}`,
          subject,
          action: { kind: 'llm.completion', name: 'm' },
          estimate: { unit: 'TOKENS', amount: s.amount },
          ttlMs: s.ttlMs,
          gracePeriodMs: s.graceMs,
        }),
      );
      const id = (answer as { reservationId?: string } | undefined)?.reservationId;
      if (id !== undefined) ids.push(id);
    } else if (s.kind === 'commit' && ids.length > 0) {
      const id = ids[s.index % ids.length]!;
      await settle(ledger.commit(id, { idempotencyKey: `c${key}`, actual: { unit: 'TOKENS', amount: 1 } }));
    } else if (s.kind === 'extend' && ids.length > 0) {
      const id = ids[s.index % ids.length]!;
      await settle(ledger.extend(id, { idempotencyKey: `e${key}`, extendByMs: 1500 }));
    } else if (s.kind === 'advance') {
      clock.advance(s.ms);
    } else if (s.kind === 'sweep') {
      await ledger.sweepExpired();
    }
  }
  // Past every hold's end: the rest expire in one last sweep.
  clock.advance(60_000);
  await ledger.sweepExpired();
  return ids;
}

describe('reservation.expired on Redis', () => {
  it('emits exactly the memory ledger’s expiry events, one per expired hold (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
        const start = Date.UTC(2026, 0, 5, 12);
        const memoryClock = new ManualClock(start);
        const redisClock = new ManualClock(start);
        const memory = createMemoryLedger({ clock: memoryClock, events: {} });
        const ledger = redis.ledger({ clock: redisClock, events: {} });
        for (const target of [memory, ledger] as Ledger[]) {
          for (const scope of SCOPES) await target.createLedger({ scope, unit: 'TOKENS', allocated: 200 });
        }
        const memoryIds = await play(memory, memoryClock, steps);
        const redisIds = await play(ledger, redisClock, steps);
        const expected = expiries(await allEvents(memory), memoryIds);
        const actual = expiries(await allEvents(ledger), redisIds);
        expect(actual).toEqual(expected);
        // One each: no hold's expiry reported twice (lazy expiry and the sweep never both report it).
        expect(new Set(actual.map((event) => event.correlation)).size).toBe(actual.length);
        const reads = await Promise.all(
          redisIds.map((id) =>
            ledger.getReservation(id).then(
              () => 'read',
              (error) => error.code,
            ),
          ),
        );
        expect(reads.filter((code) => code === 'RESERVATION_EXPIRED')).toHaveLength(actual.length);
      }),
      { numRuns: 25 },
    );
  });

  it('reports an expiry found by the lazy expiry of another operation, with its balance change', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 5, 12));
    const ledger = redis.ledger({ clock, events: {} });
    await ledger.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 });
    const hold = await ledger.reserve({
      idempotencyKey: 'big',
      subject: { tenant: 'acme' },
      action: { kind: 'llm.completion', name: 'm' },
      estimate: { unit: 'TOKENS', amount: 90 },
      ttlMs: 1000,
      gracePeriodMs: 0,
    });
    clock.advance(1001);
    // This reserve's script expires the first hold before it evaluates: it fits only because of that.
    await ledger.reserve({
      idempotencyKey: 'next',
      subject: { tenant: 'acme' },
      action: { kind: 'llm.completion', name: 'm' },
      estimate: { unit: 'TOKENS', amount: 50 },
    });
    const events = await allEvents(ledger);
    const expired = events.filter((event) => event.event_type === 'reservation.expired');
    expect(expired).toHaveLength(1);
    expect(expired[0]).toMatchObject({
      tenant_id: 'acme',
      scope: 'tenant:acme',
      correlation_id: hold.reservationId,
      data: {
        reservation_id: hold.reservationId,
        unit: 'TOKENS',
        estimated_amount: 90,
        ttl_ms: 1000,
        extensions_used: 0,
        expired_at: new Date(clock.now()).toISOString(),
      },
    });
    // The hold's return took the budget back under 80 %: the falling threshold event comes with it.
    const falling = events.filter(
      (event) => event.event_type === 'budget.threshold_crossed' && event.data!.direction === 'falling',
    );
    expect(falling.length).toBeGreaterThan(0);
  });

  it('keeps nothing about expiries in the scripts’ replies when events are off', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 5, 12));
    const ledger: RedisLedger = redis.ledger({ clock });
    await ledger.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 });
    await ledger.reserve({
      idempotencyKey: 'k',
      subject: { tenant: 'acme' },
      action: { kind: 'llm.completion', name: 'm' },
      estimate: { unit: 'TOKENS', amount: 10 },
      ttlMs: 1000,
      gracePeriodMs: 0,
    });
    clock.advance(5000);
    // Watch the raw replies the real client receives for the sweep.
    const client = ledger.client as Redis;
    const call = client.call.bind(client);
    const replies: string[] = [];
    client.call = (async (...args: Parameters<typeof call>) => {
      const raw = await call(...args);
      if (typeof raw === 'string') replies.push(raw);
      return raw;
    }) as typeof client.call;
    expect(await ledger.sweepExpired()).toBe(1);
    client.call = call;
    expect(replies.length).toBeGreaterThan(0);
    for (const raw of replies) expect(JSON.parse(raw)).not.toHaveProperty('expired');
    expect(ledger.events).toBeUndefined();
  });
});
