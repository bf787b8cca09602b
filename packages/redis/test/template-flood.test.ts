import { CyclesError, createMemoryLedger } from '@cycles-guard/core';
import type { ReserveRequest } from '@cycles-guard/core/protocol';
import { ManualClock } from '@cycles-guard/core/testing';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { RedisLedger } from '../src/index.ts';
import { useRedis } from './support/server.ts';

// A flood of new subjects on the Redis ledger (issue 22): the bound refuses and Redis stops growing;
// an idle template ledger's key carries a TTL past its window end, so it goes even with no instance
// running; held ledgers carry none. (The conformance suite runs the per-template and per-tenant
// bounds, and the randomized flood property, on Redis too.)

const redis = useRedis();
const clients: Redis[] = [];
afterAll(() => {
  for (const client of clients) client.disconnect();
});
function rawClient(): Redis {
  const client = new Redis(redis.server.url);
  clients.push(client);
  return client;
}

const DAILY = { period: 'day' } as const;
let keys = 0;
const reserve = (tenant: string): ReserveRequest => ({
  idempotencyKey: `flood-${++keys}`,
  subject: { tenant },
  action: { kind: 'llm.completion', name: 'flood' },
  estimate: { unit: 'TOKENS', amount: 10 },
});

/** One guarded call per new tenant; answers how many went through and the bounds that refused. */
async function flood(ledger: RedisLedger, tenants: string[]) {
  let held = 0;
  const refusals: Record<string, number> = {};
  for (const tenant of tenants) {
    try {
      const hold = await ledger.reserve(reserve(tenant));
      await ledger.commit(hold.reservationId!, {
        idempotencyKey: `commit-${hold.reservationId}`,
        actual: { unit: 'TOKENS', amount: 7 },
      });
      held++;
    } catch (error) {
      if (!CyclesError.isInstance(error) || error.code !== 'INVALID_REQUEST') throw error;
      const bound = String(error.details?.bound);
      refusals[bound] = (refusals[bound] ?? 0) + 1;
    }
  }
  return { held, refusals };
}

describe('redis ledger: a flood of new subjects', () => {
  it('3,000 new tenants: 200 ledgers (maxTemplateLedgers), and the refused half adds no key', async () => {
    const prefix = redis.prefix();
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 12));
    const ledger = redis.ledger({ keyPrefix: prefix, clock, maxTemplateLedgers: 200 });
    await ledger.addTemplate({ pattern: 'tenant:*', unit: 'TOKENS', allocated: 1000, window: DAILY });
    const client = rawClient();
    const tenants = Array.from({ length: 3000 }, (_, i) => `flood-${i}`);
    expect(await flood(ledger, tenants.slice(0, 1500))).toEqual({
      held: 200,
      refusals: { maxTemplateLedgers: 1300 },
    });
    const keysAfterHalf = (await client.keys(`${prefix}*`)).length;
    expect((await client.keys(`${prefix}l:*`)).length).toBe(200);
    expect(await flood(ledger, tenants.slice(1500))).toEqual({
      held: 0,
      refusals: { maxTemplateLedgers: 1500 },
    });
    expect((await client.keys(`${prefix}*`)).length).toBe(keysAfterHalf);
    expect((await ledger.templateLedgerCounts()).total).toBe(200);

    // The next window: the ended ledgers are trimmed (here by the sweep) and new tenants fit again.
    clock.advance(86_400_000);
    await ledger.sweepExpired();
    expect((await client.keys(`${prefix}l:*`)).length).toBe(0);
    expect(await ledger.templateLedgerCounts()).toMatchObject({ total: 0, byTenant: {} });
    expect((await flood(ledger, tenants.slice(0, 300))).held).toBe(200);
  });

  it('an idle template ledger has a TTL of window end + retention; a held or windowless one has none', async () => {
    const prefix = redis.prefix();
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 20));
    const ledger = redis.ledger({ keyPrefix: prefix, clock, templateLedgerRetentionMs: 600_000 });
    await ledger.addTemplate({ pattern: 'tenant:*', unit: 'TOKENS', allocated: 1000, window: DAILY });
    await ledger.addTemplate({ pattern: 'tenant:*/app:*', unit: 'TOKENS', allocated: 100 });
    const client = rawClient();
    const hold = await ledger.reserve({ ...reserve('acme'), subject: { tenant: 'acme', app: 'chat' } });
    expect(await client.pttl(`${prefix}l:tenant:acme|TOKENS`)).toBe(-1);
    await ledger.commit(hold.reservationId!, {
      idempotencyKey: 'commit-ttl',
      actual: { unit: 'TOKENS', amount: 5 },
    });
    const expected = 4 * 3_600_000 + 600_000; // to midnight, plus the retention
    const ttl = await client.pttl(`${prefix}l:tenant:acme|TOKENS`);
    expect(ttl).toBeGreaterThan(expected - 5_000);
    expect(ttl).toBeLessThanOrEqual(expected);
    expect(await client.pttl(`${prefix}l:tenant:acme/app:chat|TOKENS`)).toBe(-1);
    // An admin change adopts it: no TTL, listed as provisioned, no longer counted.
    await ledger.setLedgerStatus('tenant:acme', 'TOKENS', 'FROZEN');
    expect(await client.pttl(`${prefix}l:tenant:acme|TOKENS`)).toBe(-1);
    expect(await client.sismember(`${prefix}ledgers`, 'tenant:acme|TOKENS')).toBe(1);
    expect((await ledger.templateLedgerCounts()).byTenant).toEqual({ acme: 1 });
  });

  it('an idle ledger whose key expired comes back fresh, and the count forgets it', async () => {
    const prefix = redis.prefix();
    // 1.5 s before midnight and no retention: the idle key lives 1.5 s of Redis time.
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 23, 59, 58, 500));
    const ledger = redis.ledger({ keyPrefix: prefix, clock, templateLedgerRetentionMs: 0 });
    await ledger.addTemplate({ pattern: 'tenant:*', unit: 'TOKENS', allocated: 1000, window: DAILY });
    const client = rawClient();
    expect((await flood(ledger, ['acme'])).held).toBe(1);
    await ledger.close();
    const deadline = Date.now() + 5000;
    while ((await client.exists(`${prefix}l:tenant:acme|TOKENS`)) === 1) {
      if (Date.now() > deadline) throw new Error('the idle key never expired');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    clock.advance(10_000);
    const next = redis.ledger({ keyPrefix: prefix, clock });
    expect(await next.templateLedgerCounts()).toMatchObject({ total: 0, byTenant: {} });
    expect(await client.zcard(`${prefix}tl`)).toBe(0);
    expect((await flood(next, ['acme'])).held).toBe(1);
    expect(await next.getLedger('tenant:acme', 'TOKENS')).toMatchObject({ spent: 7, remaining: 993 });
  });

  it('has the memory ledger’s default bounds', async () => {
    const memory = createMemoryLedger({ sweepIntervalMs: 0 });
    const { limit, perTenantLimit } = await memory.templateLedgerCounts();
    expect(await redis.ledger().templateLedgerCounts()).toMatchObject({ limit, perTenantLimit });
    expect(() => redis.ledger({ maxTemplateLedgers: -1 })).toThrow(/maxTemplateLedgers/);
    expect(() => redis.ledger({ templateLedgerRetentionMs: 1.5 })).toThrow(/templateLedgerRetentionMs/);
  });
});
