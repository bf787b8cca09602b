import { ManualClock } from '@cycles-guard/core/testing';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { RedisLedger } from '../src/index.ts';
import { useRedis } from './support/server.ts';

// The one due index (active reservations at expiry + grace, ended ones at the end of their retention)
// and the scripts' remembered lower bound of it, which lets lazy expiry skip the index while nothing
// can be due: a hold past its deadline is still returned by the next operation, whoever made it.

const redis = useRedis();
const ACTION = { kind: 'llm.completion', name: 'm' };

function hold(ledger: RedisLedger, key: string, amount: number, ttlMs: number) {
  return ledger.reserve({
    idempotencyKey: key,
    subject: { tenant: 'acme' },
    action: ACTION,
    estimate: { unit: 'TOKENS', amount },
    ttlMs,
    gracePeriodMs: 0,
  });
}

async function reservedOf(ledger: RedisLedger): Promise<number | undefined> {
  return (await ledger.getLedger('tenant:acme', 'TOKENS'))?.reserved;
}

describe('the due index', () => {
  it('expires lazily in each database on its own, for one key prefix shared by two databases', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 5, 12));
    const prefix = redis.prefix();
    const zero = redis.ledger({ keyPrefix: prefix, clock, url: `${redis.server.url}/0` });
    const one = redis.ledger({ keyPrefix: prefix, clock, url: `${redis.server.url}/1` });
    for (const ledger of [zero, one])
      await ledger.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 });
    await hold(zero, 'first', 10, 1000);
    await hold(one, 'second', 10, 3000);
    clock.advance(1500);
    // Database 0 expires its hold and learns that nothing more is due there for an hour (its retention):
    // database 1's deadline must not be hidden by that.
    expect(await reservedOf(zero)).toBe(0);
    clock.advance(3000);
    expect(await reservedOf(one)).toBe(0);
  });

  it('expires a hold that a writer outside the library put on the index, at the next sweep', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 5, 12));
    const prefix = redis.prefix();
    const ledger = redis.ledger({ keyPrefix: prefix, clock });
    await ledger.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 });
    const early = await hold(ledger, 'early', 10, 60_000);
    await hold(ledger, 'late', 10, 60_000);
    // Another writer (a script of another library version, say) moves the first hold's deadline earlier
    // without telling this library: lazy expiry may miss it, the sweep reads the index itself.
    const client = new Redis(redis.server.url);
    try {
      await client.zadd(`${prefix}due`, clock.now() + 1000, early.reservationId!);
    } finally {
      client.disconnect();
    }
    clock.advance(2000);
    expect(await ledger.sweepExpired()).toBe(1);
    expect(await reservedOf(ledger)).toBe(10);
  });

  it('moves the indexes of the earlier layout (expiry, ended) onto the due index at the next sweep', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 5, 12));
    const prefix = redis.prefix();
    const ledger = redis.ledger({ keyPrefix: prefix, clock, reservationRetentionMs: 5000 });
    await ledger.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 });
    const live = await hold(ledger, 'live', 10, 1000);
    const ended = await hold(ledger, 'ended', 10, 60_000);
    await ledger.release(ended.reservationId!, { idempotencyKey: 'r' });
    // As an earlier version left them: the live hold on expiry (expiry + grace), the ended one on ended.
    const client = new Redis(redis.server.url);
    try {
      await client.zrem(`${prefix}due`, live.reservationId!, ended.reservationId!);
      await client.zadd(`${prefix}expiry`, clock.now() + 1000, live.reservationId!);
      await client.zadd(`${prefix}ended`, clock.now(), ended.reservationId!);
      clock.advance(6000);
      expect(await ledger.sweepExpired()).toBe(1);
      expect(await reservedOf(ledger)).toBe(0);
      await expect(ledger.getReservation(ended.reservationId!)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(await client.exists(`${prefix}expiry`, `${prefix}ended`)).toBe(0);
    } finally {
      client.disconnect();
    }
  });

  it('forgets an ended reservation once its retention is over, at the next operation', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 5, 12));
    const ledger = redis.ledger({ clock, reservationRetentionMs: 5000 });
    await ledger.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 });
    const first = await hold(ledger, 'first', 10, 60_000);
    await ledger.commit(first.reservationId!, {
      idempotencyKey: 'c',
      actual: { unit: 'TOKENS', amount: 4 },
    });
    clock.advance(4999);
    expect((await ledger.getReservation(first.reservationId!)).status).toBe('COMMITTED');
    clock.advance(1);
    await expect(ledger.getReservation(first.reservationId!)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const live = await hold(ledger, 'second', 10, 60_000);
    const listed = await ledger.listReservations({});
    expect(listed.reservations.map((reservation) => reservation.reservationId)).toEqual([live.reservationId]);
  });
});
