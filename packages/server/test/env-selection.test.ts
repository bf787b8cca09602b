import { cyclesFromEnv } from '@cycles-guard/core';
import { createRedisLedger } from '@cycles-guard/redis';
import { describe, expect, it } from 'vitest';
import { startCyclesServer } from '../src/server.ts';
import { useRedisServer } from './support/redis-server.ts';

// core's `cyclesFromEnv` picks its authority from the environment; here both remote choices are real.

const redis = useRedisServer();

const reserve = {
  idempotencyKey: 'env-1',
  subject: { tenant: 'acme' },
  action: { kind: 'llm.completion', name: 'm' },
  estimate: { unit: 'TOKENS' as const, amount: 40 },
};

describe('cyclesFromEnv authority selection', () => {
  it('CYCLES_REDIS_URL: loads @cycles-guard/redis on first use and shares the Redis budget', async () => {
    const seeding = createRedisLedger({ url: redis.server.url, keyPrefix: 'app-budgets:' });
    await seeding.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 });
    const cycles = cyclesFromEnv({
      CYCLES_REDIS_URL: redis.server.url,
      CYCLES_REDIS_KEY_PREFIX: 'app-budgets:',
      CYCLES_UNIT: 'TOKENS',
    });
    try {
      const held = await cycles.authority.reserve(reserve);
      expect(held.reservationId).toBeTruthy();
      expect((await seeding.getLedger('tenant:acme', 'TOKENS'))?.reserved).toBe(40);
    } finally {
      await cycles.close();
      await seeding.close();
    }
  });

  it('CYCLES_BASE_URL + CYCLES_API_KEY: talks to a Cycles server', async () => {
    const server = await startCyclesServer({
      port: 0,
      logLevel: 'silent',
      apiKeys: { 'env-key-000001': 'acme' },
      ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 }],
    });
    const cycles = cyclesFromEnv({ CYCLES_BASE_URL: server.url, CYCLES_API_KEY: 'env-key-000001' });
    try {
      const hold = await cycles.reserve({ estimate: 40, unit: 'TOKENS', subject: { tenant: 'acme' } });
      await hold.commit(25);
      expect(await server.ledger.getLedger('tenant:acme', 'TOKENS')).toMatchObject({
        spent: 25,
        reserved: 0,
      });
    } finally {
      await cycles.close();
      await server.close();
    }
  });
});
