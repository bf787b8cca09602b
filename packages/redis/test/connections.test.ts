import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createRedisLedger } from '../src/index.ts';
import { startRedisServer } from '../src/testing/index.ts';
import { useRedis } from './support/server.ts';

const redis = useRedis();
const ACTION = { kind: 'llm.completion', name: 'connections' };

describe('connections', () => {
  it('uses a client it is given, and leaves it open on close()', async () => {
    const client = new Redis(redis.server.url);
    const ledger = createRedisLedger({ client, keyPrefix: redis.prefix(), sweepIntervalMs: 0 });
    await ledger.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 });
    const hold = await ledger.reserve({
      idempotencyKey: 'given-client',
      subject: { tenant: 'acme' },
      action: ACTION,
      estimate: { unit: 'TOKENS', amount: 60 },
    });
    expect(hold.decision).toBe('ALLOW');
    expect(ledger.client).toBe(client);
    await ledger.close();
    expect(await client.ping()).toBe('PONG');
    client.disconnect();
  });

  it('on one Redis, braces in the key prefix are only characters: no tags, no census', async () => {
    const keyPrefix = `{one}${redis.prefix()}`;
    const ledger = createRedisLedger({ url: redis.server.url, keyPrefix, sweepIntervalMs: 0 });
    await ledger.addTemplate({ pattern: 'tenant:*', unit: 'TOKENS', allocated: 100 });
    const hold = await ledger.reserve({
      idempotencyKey: 'braced-prefix',
      subject: { tenant: 'acme' },
      action: ACTION,
      estimate: { unit: 'TOKENS', amount: 60 },
    });
    expect(hold.reservationId).toMatch(/^rsv_[^.]+$/);
    expect((await ledger.getLedger('tenant:acme', 'TOKENS'))?.ledgerId).toMatch(/^led_\d{10}$/);
    const client = new Redis(redis.server.url);
    expect((await client.keys(`${keyPrefix}*`)).some((key) => key.includes('census'))).toBe(false);
    client.disconnect();
    await ledger.close();
  });

  it('falls back to EVALSHA scripts on a server without Redis functions', async () => {
    // Redis 6 has no FCALL: renaming the command away gives the same "unknown command" answer.
    const server = await startRedisServer({ extraArgs: ['--rename-command', 'FCALL', ''] });
    try {
      const ledger = createRedisLedger({ url: server.url, keyPrefix: 'old:', sweepIntervalMs: 0 });
      await ledger.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 });
      const hold = await ledger.reserve({
        idempotencyKey: 'old-server',
        subject: { tenant: 'acme' },
        action: ACTION,
        estimate: { unit: 'TOKENS', amount: 60 },
      });
      await ledger.commit(hold.reservationId!, {
        idempotencyKey: 'old-commit',
        actual: { unit: 'TOKENS', amount: 50 },
      });
      expect(await ledger.getLedger('tenant:acme', 'TOKENS')).toMatchObject({
        spent: 50,
        remaining: 50,
        reserved: 0,
      });
      await ledger.close();
    } finally {
      await server.remove();
    }
  });

  it('reloads its functions on a server that lost them (FUNCTION FLUSH)', async () => {
    const ledger = redis.ledger();
    await ledger.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 });
    const admin = new Redis(redis.server.url);
    await admin.call('FUNCTION', 'FLUSH');
    admin.disconnect();
    expect(await ledger.getLedger('tenant:acme', 'TOKENS')).toMatchObject({ allocated: 100 });
  });
});
