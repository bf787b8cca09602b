import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { useRedis } from './support/server.ts';

// The README's key layout is what the scripts write, and the background sweeper (not only lazy
// expiry on access) returns expired holds.

const redis = useRedis();
const ACTION = { kind: 'llm.completion', name: 'layout' };

async function keysUnder(url: string, prefix: string): Promise<string[]> {
  const client = new Redis(url);
  const keys = await client.keys(`${prefix}*`);
  client.disconnect();
  return keys.map((key) => key.slice(prefix.length)).sort();
}

describe('key layout', () => {
  it('every key the ledger writes is one the README documents', async () => {
    const prefix = redis.prefix();
    const ledger = redis.ledger({ keyPrefix: prefix });
    await ledger.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1000 });
    await ledger.addTemplate({ pattern: 'tenant:*/app:*', unit: 'TOKENS', allocated: 100 });
    await ledger.setTenant('acme', { defaultReservationTtlMs: 30_000 });
    const hold = await ledger.reserve({
      idempotencyKey: 'layout-1',
      subject: { tenant: 'acme', app: 'chat' },
      action: ACTION,
      estimate: { unit: 'TOKENS', amount: 10 },
    });
    await ledger.extend(hold.reservationId!, { idempotencyKey: 'layout-extend', extendByMs: 1000 });
    await ledger.commit(hold.reservationId!, {
      idempotencyKey: 'layout-commit',
      actual: { unit: 'TOKENS', amount: 5 },
    });
    await ledger.createEvent({
      idempotencyKey: 'layout-event',
      subject: { tenant: 'acme' },
      action: ACTION,
      actual: { unit: 'TOKENS', amount: 1 },
    });
    await ledger.fund({
      scope: 'tenant:acme',
      unit: 'TOKENS',
      funding: { operation: 'CREDIT', amount: 1 },
      idempotencyKey: 'f1',
    });

    const keys = await keysUnder(redis.server.url, prefix);
    const documented = [
      /^l:[^|]+\|[A-Z_]+$/,
      /^ledgers$/,
      /^units:.+$/,
      /^templates$/,
      /^tenant:.+$/,
      /^r:rsv_.+$/,
      /^x:rsv_.+$/,
      /^due$/,
      /^ended:t:.*$/,
      /^held:.*$/,
      /^i:.+$/,
      /^seq$/,
      /^tl$/,
      /^tl:t:.*$/,
      /^tl:p:\d+$/,
    ];
    for (const key of keys)
      expect(
        documented.some((pattern) => pattern.test(key)),
        key,
      ).toBe(true);
    expect(keys).toEqual(
      expect.arrayContaining([
        'l:tenant:acme|TOKENS',
        'l:tenant:acme/app:chat|TOKENS',
        'ledgers',
        'units:tenant:acme',
        'templates',
        'tenant:acme',
        `r:${hold.reservationId}`,
        `x:${hold.reservationId}`,
        'due',
        'i:acme|reserve|layout-1',
        'i:acme|event|layout-event',
        'i:fund|tenant:acme|TOKENS|f1',
        'tl',
        'tl:t:acme',
        'tl:p:1',
      ]),
    );
  });

  it('the periodic sweeper returns expired holds with nobody calling the ledger', async () => {
    const prefix = redis.prefix();
    const ledger = redis.ledger({ keyPrefix: prefix });
    await ledger.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1000 });
    await ledger.reserve({
      idempotencyKey: 'swept',
      subject: { tenant: 'acme' },
      action: ACTION,
      estimate: { unit: 'TOKENS', amount: 300 },
      ttlMs: 1000,
      gracePeriodMs: 0,
    });
    redis.ledger({ keyPrefix: prefix, sweepIntervalMs: 100 });
    const client = new Redis(redis.server.url);
    // Read the raw record (a ledger read would expire lazily and prove nothing about the sweeper): a
    // budget is MessagePack fields in README order, remaining 5th and reserved 6th.
    const rawCounters = async () =>
      (await client.eval(
        `local f = { cmsgpack.unpack(redis.call('GET', KEYS[1])) } return { tostring(f[5]), tostring(f[6]) }`,
        1,
        `${prefix}l:tenant:acme|TOKENS`,
      )) as [remaining: string, reserved: string];
    try {
      const deadline = Date.now() + 10_000;
      while ((await rawCounters())[1] !== '0') {
        if (Date.now() > deadline) throw new Error('the sweeper never expired the hold');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect((await rawCounters())[0]).toBe('1000');
      // Still on the due index, for the end of its retention: nothing is due any more.
      expect(await client.zrangebyscore(`${prefix}due`, '-inf', `(${Date.now()}`)).toEqual([]);
    } finally {
      client.disconnect();
    }
  });
});
