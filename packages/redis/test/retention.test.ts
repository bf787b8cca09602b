import { ManualClock } from '@cycles-guard/core/testing';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { useRedis } from './support/server.ts';

// Time retention on Redis: one sweep forgets every finished reservation past its retention (in
// batches), with its tenant's count and index, so a busy tenant's records never pile up past the window.

const redis = useRedis();
const ACTION = { kind: 'llm.completion', name: 'retention' };

describe('reservation retention', () => {
  it('one sweep forgets all finished reservations past retention, with their per-tenant keys', async () => {
    const prefix = redis.prefix();
    const clock = new ManualClock();
    const ledger = redis.ledger({
      keyPrefix: prefix,
      clock,
      reservationRetentionMs: 1000,
      sweepIntervalMs: 0,
    });
    await ledger.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1_000_000 });
    const ids: string[] = [];
    for (let i = 0; i < 1200; i++) {
      const hold = await ledger.reserve({
        idempotencyKey: `r-${i}`,
        subject: { tenant: 'acme' },
        action: ACTION,
        estimate: { unit: 'TOKENS', amount: 2 },
      });
      await ledger.commit(hold.reservationId!, {
        idempotencyKey: `c-${i}`,
        actual: { unit: 'TOKENS', amount: 1 },
      });
      ids.push(hold.reservationId!);
    }
    clock.advance(1001);
    await ledger.sweepExpired();
    await expect(ledger.getReservation(ids[0]!)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(ledger.getReservation(ids.at(-1)!)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const client = new Redis(redis.server.url);
    const left = await client.keys(`${prefix}r:*`);
    const tenantKeys = await client.keys(`${prefix}*:acme`);
    client.disconnect();
    expect(left).toEqual([]);
    // No per-tenant count or index is left behind.
    expect(tenantKeys.filter((key) => key.includes('held:') || key.includes('ended:t:'))).toEqual([]);
    expect(await ledger.getLedger('tenant:acme', 'TOKENS')).toMatchObject({ spent: 1200, reserved: 0 });
  });
});
