import { CyclesError, type Ledger } from '@cycles-guard/core';
import { checkIdentity } from '@cycles-guard/core/testing';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { useRedis } from './support/server.ts';

// Several ledger instances (separate connections, as separate app processes would have) on one key
// prefix are one ledger: Redis orders their scripts, and Redis TIME is everyone's clock.

const redis = useRedis();
const ACTION = { kind: 'llm.completion', name: 'shared' };

async function redisTimeMs(url: string): Promise<number> {
  const client = new Redis(url);
  const [seconds, micros] = await client.time();
  client.disconnect();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

describe('instances sharing a prefix', () => {
  it('see one budget', async () => {
    const prefix = redis.prefix();
    const first = redis.ledger({ keyPrefix: prefix });
    const second = redis.ledger({ keyPrefix: prefix });
    await first.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1000 });
    const hold = await first.reserve({
      idempotencyKey: 'shared-1',
      subject: { tenant: 'acme' },
      action: ACTION,
      estimate: { unit: 'TOKENS', amount: 700 },
    });
    expect(await second.getLedger('tenant:acme', 'TOKENS')).toMatchObject({ reserved: 700, remaining: 300 });
    // The other instance settles the hold; a replay from the first returns the same reservation.
    await second.commit(hold.reservationId!, {
      idempotencyKey: 'shared-commit',
      actual: { unit: 'TOKENS', amount: 650 },
    });
    const replay = await first.reserve({
      idempotencyKey: 'shared-1',
      subject: { tenant: 'acme' },
      action: ACTION,
      estimate: { unit: 'TOKENS', amount: 700 },
    });
    expect(replay.reservationId).toBe(hold.reservationId);
    expect(replay.remainingTtlMs).toBe(0);
    expect(await first.getLedger('tenant:acme', 'TOKENS')).toMatchObject({ spent: 650, reserved: 0 });
  });

  it('other prefixes are other ledgers', async () => {
    const first = redis.ledger();
    const second = redis.ledger();
    await first.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1000 });
    expect(await second.getLedger('tenant:acme', 'TOKENS')).toBeUndefined();
    expect(await second.listLedgers()).toEqual([]);
  });

  it('take their time from Redis TIME', async () => {
    const ledger = redis.ledger();
    await ledger.createLedger({
      scope: 'tenant:acme',
      unit: 'TOKENS',
      allocated: 1000,
      window: { period: 'day' },
    });
    const before = await redisTimeMs(redis.server.url);
    const hold = await ledger.reserve({
      idempotencyKey: 'time-1',
      subject: { tenant: 'acme' },
      action: ACTION,
      estimate: { unit: 'TOKENS', amount: 10 },
      ttlMs: 30_000,
    });
    const after = await redisTimeMs(redis.server.url);
    const created = (await ledger.getReservation(hold.reservationId!)).createdAtMs;
    expect(created).toBeGreaterThanOrEqual(before);
    expect(created).toBeLessThanOrEqual(after);
    expect(hold.expiresAtMs).toBe(created + 30_000);
    const state = await ledger.getLedger('tenant:acme', 'TOKENS');
    expect(state?.periodStartMs).toBeLessThanOrEqual(created);
    expect(state?.periodEndMs).toBeGreaterThan(created);
    expect(state!.periodEndMs! - state!.periodStartMs!).toBeLessThanOrEqual(86_400_000);
  });

  it('sweep concurrently without expiring anything twice', async () => {
    const prefix = redis.prefix();
    const sweepers = [1, 2, 3].map(() => redis.ledger({ keyPrefix: prefix }));
    await sweepers[0]!.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 10_000 });
    for (let i = 0; i < 20; i++) {
      await sweepers[0]!.reserve({
        idempotencyKey: `sweep-${i}`,
        subject: { tenant: 'acme' },
        action: ACTION,
        estimate: { unit: 'TOKENS', amount: 100 },
        ttlMs: 1000,
        gracePeriodMs: 0,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const counts = await Promise.all(sweepers.map((ledger) => ledger.sweepExpired()));
    expect(counts.reduce((sum, count) => sum + count, 0)).toBe(20);
    expect(await sweepers[1]!.getLedger('tenant:acme', 'TOKENS')).toMatchObject({
      reserved: 0,
      remaining: 10_000,
    });
    const expired = await sweepers[2]!.listReservations({ tenant: 'acme', status: 'EXPIRED', limit: 100 });
    expect(expired.reservations).toHaveLength(20);
  });

  it('property: random concurrent reserve/commit/release from several instances never overspend', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            instance: fc.integer({ min: 0, max: 2 }),
            app: fc.constantFrom('a', 'b'),
            estimate: fc.integer({ min: 1, max: 400 }),
            usage: fc.double({ min: 0, max: 1.5, noNaN: true }),
            settle: fc.constantFrom('commit', 'release', 'commit'),
          }),
          { minLength: 5, maxLength: 40 },
        ),
        async (calls) => {
          const prefix = redis.prefix();
          const instances: Ledger[] = [0, 1, 2].map(() => redis.ledger({ keyPrefix: prefix }));
          const admin = instances[0]!;
          await admin.createLedger({ scope: 'tenant:acme', unit: 'TOKENS', allocated: 2000 });
          await admin.createLedger({ scope: 'tenant:acme/app:a', unit: 'TOKENS', allocated: 1200 });
          await admin.createLedger({
            scope: 'tenant:acme/app:b',
            unit: 'TOKENS',
            allocated: 1200,
            overdraftLimit: 300,
          });
          let charged = 0;
          await Promise.all(
            calls.map(async (call, index) => {
              const ledger = instances[call.instance]!;
              let reservationId: string;
              try {
                const response = await ledger.reserve({
                  idempotencyKey: `p-${index}`,
                  subject: { tenant: 'acme', app: call.app },
                  action: ACTION,
                  estimate: { unit: 'TOKENS', amount: call.estimate },
                });
                reservationId = response.reservationId!;
              } catch (error) {
                if (CyclesError.isInstance(error) && error.status === 409) return;
                throw error;
              }
              if (call.settle === 'release') {
                await ledger.release(reservationId, { idempotencyKey: `p-release-${index}` });
                return;
              }
              const actual = Math.floor(call.estimate * call.usage);
              try {
                const response = await ledger.commit(reservationId, {
                  idempotencyKey: `p-commit-${index}`,
                  actual: { unit: 'TOKENS', amount: actual },
                });
                charged += response.charged.amount;
              } catch (error) {
                // An overrun refused by the policy leaves the hold: give it back.
                if (!CyclesError.isInstance(error) || error.status !== 409) throw error;
                await ledger.release(reservationId, { idempotencyKey: `p-release-${index}` });
              }
            }),
          );
          const states = await checkIdentity(admin);
          for (const state of states) {
            expect(state.reserved).toBe(0);
            expect(state.spent).toBeLessThanOrEqual(state.allocated);
            expect(state.debt).toBeLessThanOrEqual(state.overdraftLimit);
          }
          expect(states.find((state) => state.scope === 'tenant:acme')?.spent).toBe(charged);
        },
      ),
      { numRuns: 20 },
    );
  }, 120_000);
});
