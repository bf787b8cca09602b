import { cyclesFromEnv } from '@cycles-guard/core';
import { describe, expect, it } from 'vitest';
import { redisIdentity } from '../src/outbox.ts';
import { useRedis } from './support/server.ts';

// Importing the package (support/server.ts imports its index) registers redis:// and rediss://, so
// core's cyclesFromEnv selects this ledger from CYCLES_REDIS_URL without knowing the package.

const redis = useRedis();

describe('CYCLES_REDIS_URL', () => {
  it('selects the Redis ledger registered on import: one budget with a ledger created in code', async () => {
    const keyPrefix = redis.prefix();
    const seeding = redis.ledger({ keyPrefix });
    await seeding.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 });
    const cycles = cyclesFromEnv({
      CYCLES_REDIS_URL: redis.server.url,
      CYCLES_REDIS_KEY_PREFIX: keyPrefix,
      CYCLES_UNIT: 'TOKENS',
    });
    try {
      expect(cycles.authority.identity).toBe(redisIdentity(redis.server.url, keyPrefix));
      expect(cycles.authority.identity).toBe(seeding.identity);
      const hold = await cycles.reserve({ estimate: 40, subject: { tenant: 'acme' } });
      expect(await seeding.getLedger('tenant:acme', 'TOKENS')).toMatchObject({ reserved: 40 });
      await hold.commit(25);
      expect(await seeding.getLedger('tenant:acme', 'TOKENS')).toMatchObject({ reserved: 0, spent: 25 });
    } finally {
      await cycles.close();
    }
  });

  it('without CYCLES_REDIS_KEY_PREFIX uses the default prefix, as createRedisLedger does', () => {
    const cycles = cyclesFromEnv({ CYCLES_REDIS_URL: 'rediss://cache.invalid:6380' });
    expect(cycles.authority.identity).toBe(redisIdentity('rediss://cache.invalid:6380', 'cycles:'));
    return cycles.close();
  });
});
