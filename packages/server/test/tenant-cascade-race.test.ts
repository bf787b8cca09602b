import type { RedisServer } from '@cycles-guard/redis/testing';
import { startRedisServer } from '@cycles-guard/redis/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';

// GOV Rule 1 under load: a tenant close over HTTP racing that tenant's own reserves, commits and
// releases (several clients at once, random amounts, random moment of the close). Afterwards, on both
// ledgers: every budget of the tenant is CLOSED and holds nothing, no reservation of it is live, spend
// stays within what was allocated, and every write sent after the close answered was refused with 409
// TENANT_CLOSED.

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON bodies
type Json = any;

interface Step {
  amount: number;
  app: boolean;
  /** commit this share of the estimate (may exceed it), release, or leave the hold live. */
  settle: { commit: number } | 'release' | 'leave';
}

const step = fc.record({
  amount: fc.integer({ min: 1, max: 120 }),
  app: fc.boolean(),
  settle: fc.oneof(
    fc.record({ commit: fc.double({ min: 0, max: 1.5, noNaN: true }) }),
    fc.constant('release' as const),
    fc.constant('leave' as const),
  ),
});

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.remove();
});

describe.each([
  ['memory', 20],
  ['redis', 8],
] as const)('tenant close racing its own writes on the %s ledger', (kind, runs) => {
  let server: CyclesServer;
  beforeAll(async () => {
    server = await startCyclesServer({
      port: 0,
      adminApiKey: ADMIN_KEY,
      ...(kind === 'redis' ? { ledger: { type: 'redis' as const, url: redis.url, keyPrefix: 'race:' } } : {}),
      logLevel: 'silent',
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  async function call(
    method: string,
    path: string,
    body: unknown,
    key?: string,
  ): Promise<{ status: number; body: Json }> {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        'Content-Type': 'application/json',
        ...(key === undefined ? { 'X-Admin-API-Key': ADMIN_KEY } : { 'X-Cycles-API-Key': key }),
      },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? {} : JSON.parse(text) };
  }

  let tenants = 0;
  // The runs must have exercised the race: holds only the close could drain, and writes after it.
  let leftLive = 0;
  let lateWrites = 0;
  it('leaves nothing held and spend within allocation, whenever the close lands', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 100, max: 1000 }),
        fc.array(fc.array(step, { minLength: 1, maxLength: 6 }), { minLength: 2, maxLength: 5 }),
        fc.integer({ min: 0, max: 25 }),
        async (allocated, clients, closeAfterMs) => {
          const tenant = `race${++tenants}`;
          const key = server.apiKeys.issue(tenant);
          expect(
            (await call('PUT', `/v1/admin/tenants/${tenant}`, { default_reservation_ttl_ms: 60_000 })).status,
          ).toBe(204);
          for (const [scope, amount] of [
            [`tenant:${tenant}`, allocated],
            [`tenant:${tenant}/app:a`, Math.floor(allocated / 2)],
          ] as const) {
            const created = await call('POST', '/v1/admin/budgets', {
              scope,
              unit: 'TOKENS',
              allocated: amount,
            });
            expect(created.status).toBe(201);
          }
          let closedAt = Number.POSITIVE_INFINITY;
          let sent = 0;
          const late: Array<{ status: number; body: Json }> = [];
          /** Sends a tenant write, and keeps its answer when it was sent after the close answered. */
          const write = async (path: string, body: unknown) => {
            const sentAt = performance.now();
            const answer = await call(
              'POST',
              path,
              { idempotency_key: `${tenant}-${++sent}`, ...(body as object) },
              key,
            );
            if (sentAt > closedAt) late.push(answer);
            return answer;
          };
          const held: string[] = [];
          let closed: Promise<void> = Promise.resolve();
          const client = async (steps: Step[]) => {
            for (const s of steps) {
              const reserved = await write('/v1/reservations', {
                subject: { tenant, ...(s.app ? { app: 'a' } : {}) },
                action: { kind: 'llm.completion', name: 'm' },
                estimate: { unit: 'TOKENS', amount: s.amount },
              });
              if (reserved.status !== 200 || reserved.body.decision !== 'ALLOW') continue;
              const id = reserved.body.reservation_id;
              if (s.settle === 'leave') {
                leftLive++;
                held.push(id);
              }
              if (s.settle === 'release') await write(`/v1/reservations/${id}/release`, {});
              else if (s.settle !== 'leave') {
                const actual = Math.round(s.amount * s.settle.commit);
                await write(`/v1/reservations/${id}/commit`, { actual: { unit: 'TOKENS', amount: actual } });
              }
            }
            // Then, once the close answered, a reserve and a commit of a hold it drained: both refused.
            await closed;
            await write('/v1/reservations', {
              subject: { tenant },
              action: { kind: 'llm.completion', name: 'm' },
              estimate: { unit: 'TOKENS', amount: 1 },
            });
            const drained = held.shift();
            if (drained !== undefined) {
              await write(`/v1/reservations/${drained}/commit`, { actual: { unit: 'TOKENS', amount: 1 } });
            }
          };
          closed = (async () => {
            await new Promise((resolve) => setTimeout(resolve, closeAfterMs));
            const answer = await call('PUT', `/v1/admin/tenants/${tenant}`, { status: 'CLOSED' });
            closedAt = performance.now();
            expect(answer.status).toBe(204);
          })();
          await Promise.all([closed, ...clients.map(client)]);

          const budgets = (await call('GET', '/v1/admin/budgets', undefined)).body.ledgers;
          const own = budgets.filter(
            (b: Json) => b.scope === `tenant:${tenant}` || b.scope.startsWith(`tenant:${tenant}/`),
          );
          expect(own).toHaveLength(2);
          for (const budget of own) {
            expect(budget.status).toBe('CLOSED');
            expect(budget.reserved).toBe(0);
            expect(budget.spent).toBeLessThanOrEqual(budget.allocated);
            expect(budget.remaining).toBe(budget.allocated - budget.spent - budget.debt);
          }
          const live = await server.ledger.listReservations({ tenant, status: 'ACTIVE' }, { tenant });
          expect(live.reservations).toEqual([]);
          lateWrites += late.length;
          for (const answer of late)
            expect([answer.status, answer.body.error]).toEqual([409, 'TENANT_CLOSED']);
        },
      ),
      { numRuns: runs },
    );
    expect(leftLive).toBeGreaterThan(0);
    expect(lateWrites).toBeGreaterThan(0);
  }, 120_000);
});
