import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.ts';
import type { EventRequest, ReserveRequest } from '../protocol/types.ts';
import { createMemoryLedger, type MemoryLedgerOptions } from './memory-ledger.ts';
import type { Ledger } from './types.ts';

// Idempotency retention of the memory ledger: what the record cap may drop, and for how long keys last.

const ACTION = { kind: 'llm.completion', name: 'model' };
const HOUR = 3_600_000;
const open: Ledger[] = [];
afterEach(async () => {
  for (const ledger of open.splice(0)) await ledger.close?.();
});

function ledgerWith(options: MemoryLedgerOptions): Ledger {
  const ledger = createMemoryLedger({
    sweepIntervalMs: 0,
    ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1_000_000 }],
    ...options,
  });
  open.push(ledger);
  return ledger;
}

const reserve = (key: string, amount = 100, extra: Partial<ReserveRequest> = {}): ReserveRequest => ({
  idempotencyKey: key,
  subject: { tenant: 'acme' },
  action: ACTION,
  estimate: { unit: 'TOKENS', amount },
  ...extra,
});

const event = (key: string, amount = 10): EventRequest => ({
  idempotencyKey: key,
  subject: { tenant: 'acme' },
  action: ACTION,
  actual: { unit: 'TOKENS', amount },
});

const decide = (ledger: Ledger, key: string) =>
  ledger.decide({
    idempotencyKey: key,
    subject: { tenant: 'acme' },
    action: ACTION,
    estimate: { unit: 'TOKENS', amount: 1 },
  });

async function counters(ledger: Ledger) {
  const state = await ledger.getLedger('tenant:acme', 'TOKENS');
  return { reserved: state?.reserved, spent: state?.spent };
}

describe('memory ledger idempotency retention', () => {
  it('the record cap never drops the key of a live reservation (a retry cannot hold twice)', async () => {
    const ledger = ledgerWith({ maxIdempotencyRecordsPerTenant: 2 });
    const first = await ledger.reserve(reserve('live'));
    // Far more records than the cap: decides, dry runs, and settled reserves.
    for (let i = 0; i < 20; i++) {
      await decide(ledger, `decide-${i}`);
      await ledger.reserve(reserve(`dry-${i}`, 1, { dryRun: true }));
      const settled = await ledger.reserve(reserve(`settled-${i}`, 1));
      await ledger.release(settled.reservationId!, { idempotencyKey: `release-${i}` });
    }
    const replay = await ledger.reserve(reserve('live'));
    expect(replay.reservationId).toBe(first.reservationId);
    expect(await counters(ledger)).toEqual({ reserved: 100, spent: 0 });
    // Still live after the replay; once it ends, its key becomes evictable like any other.
    await ledger.commit(first.reservationId!, {
      idempotencyKey: 'c',
      actual: { unit: 'TOKENS', amount: 100 },
    });
    for (let i = 0; i < 5; i++) await decide(ledger, `after-${i}`);
    const fresh = await ledger.reserve(reserve('live'));
    expect(fresh.reservationId).not.toBe(first.reservationId);
  });

  it('a live key outlives the time retention too (extended past 24 h)', async () => {
    const clock = new ManualClock();
    const ledger = ledgerWith({ clock, tenants: { acme: { maxReservationTtlMs: 86_400_000 } } });
    const first = await ledger.reserve(reserve('long', 100, { ttlMs: 86_400_000 }));
    clock.advance(23 * HOUR);
    await ledger.extend(first.reservationId!, { idempotencyKey: 'x', extendByMs: 86_400_000 });
    clock.advance(24 * HOUR); // 47 h: past every retention, still live (expires at 48 h)
    const replay = await ledger.reserve(reserve('long', 100, { ttlMs: 86_400_000 }));
    expect(replay.reservationId).toBe(first.reservationId);
    expect(await counters(ledger)).toEqual({ reserved: 100, spent: 0 });
  });

  it('the cap drops decide and dry-run records before event records', async () => {
    const ledger = ledgerWith({ maxIdempotencyRecordsPerTenant: 3 });
    const applied = await ledger.createEvent(event('event-1'));
    for (let i = 0; i < 10; i++) await decide(ledger, `decide-${i}`);
    const replay = await ledger.createEvent(event('event-1'));
    expect(replay.eventId).toBe(applied.eventId);
    expect((await counters(ledger)).spent).toBe(10);
  });

  it('only events inside the replay window remain: new events are refused (429), never one forgotten', async () => {
    const clock = new ManualClock();
    const ledger = ledgerWith({ clock, maxIdempotencyRecordsPerTenant: 2 });
    const oldest = await ledger.createEvent(event('e1'));
    await ledger.createEvent(event('e2'));
    await expect(ledger.createEvent(event('e3'))).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    expect((await ledger.createEvent(event('e1'))).eventId).toBe(oldest.eventId);
    expect((await counters(ledger)).spent).toBe(20);
    // Past the window, the tenant's own oldest event record goes first.
    clock.advance(HOUR);
    const newest = await ledger.createEvent(event('e3'));
    expect((await ledger.createEvent(event('e3'))).eventId).toBe(newest.eventId);
    expect((await ledger.createEvent(event('e1'))).eventId).not.toBe(oldest.eventId);
  });

  it("one tenant's flood of events never drops another tenant's records", async () => {
    const ledger = ledgerWith({
      maxIdempotencyRecordsPerTenant: 50,
      ledgers: [
        { scope: 'tenant:acme', unit: 'TOKENS', allocated: 1_000_000 },
        { scope: 'tenant:beta', unit: 'TOKENS', allocated: 1_000_000 },
      ],
    });
    const applied = await ledger.createEvent(event('acme-event', 500));
    const held = await ledger.reserve(reserve('acme-hold', 5));
    let refused = 0;
    for (let i = 0; i < 500; i++) {
      await ledger
        .createEvent({ ...event(`beta-${i}`, 0), subject: { tenant: 'beta' } })
        .catch(() => refused++);
      await ledger.decide({ ...reserve(`beta-decide-${i}`), subject: { tenant: 'beta' } });
    }
    expect(refused).toBeGreaterThan(0);
    expect((await ledger.createEvent(event('acme-event', 500))).eventId).toBe(applied.eventId);
    expect((await ledger.reserve(reserve('acme-hold', 5))).reservationId).toBe(held.reservationId);
    expect(await counters(ledger)).toEqual({ reserved: 5, spent: 500 });
  });

  it('an event replayed after 24 h is not charged again (events keep their key 7 days, as Ref)', async () => {
    const clock = new ManualClock();
    const ledger = ledgerWith({ clock });
    const applied = await ledger.createEvent(event('late', 10));
    clock.advance(25 * HOUR);
    expect(await ledger.createEvent(event('late', 10))).toEqual(applied);
    clock.advance(5 * 24 * HOUR); // 6 days 1 h
    expect((await ledger.createEvent(event('late', 10))).eventId).toBe(applied.eventId);
    expect((await counters(ledger)).spent).toBe(10);
    // Past 7 days the key is free again: a new event.
    clock.advance(24 * HOUR);
    expect((await ledger.createEvent(event('late', 10))).eventId).not.toBe(applied.eventId);
    expect((await counters(ledger)).spent).toBe(20);
  });

  it('decide and dry-run keys keep the 24 h retention; event retention is configurable', async () => {
    const clock = new ManualClock();
    const ledger = ledgerWith({ clock, eventIdempotencyRetentionMs: HOUR });
    const decided = await decide(ledger, 'd');
    const applied = await ledger.createEvent(event('e'));
    clock.advance(HOUR + 1);
    expect((await ledger.createEvent(event('e'))).eventId).not.toBe(applied.eventId);
    expect(await decide(ledger, 'd')).toEqual(decided);
    // A changed payload under a retained key is still a mismatch.
    await expect(
      ledger.decide({
        idempotencyKey: 'd',
        subject: { tenant: 'acme' },
        action: ACTION,
        estimate: { unit: 'TOKENS', amount: 2 },
      }),
    ).rejects.toMatchObject({ code: 'IDEMPOTENCY_MISMATCH' });
    clock.advance(23 * HOUR);
    await expect(
      ledger.decide({
        idempotencyKey: 'd',
        subject: { tenant: 'acme' },
        action: ACTION,
        estimate: { unit: 'TOKENS', amount: 2 },
      }),
    ).resolves.toMatchObject({ decision: 'ALLOW' });
  });

  it('the rejected option values name the field', () => {
    expect(() => createMemoryLedger({ sweepIntervalMs: 0, eventIdempotencyRetentionMs: -1 })).toThrow(
      /eventIdempotencyRetentionMs/,
    );
    expect(() => createMemoryLedger({ sweepIntervalMs: 0, maxIdempotencyRecordsPerTenant: 0 })).toThrow(
      /maxIdempotencyRecordsPerTenant/,
    );
  });
});
