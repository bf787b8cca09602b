import { type BudgetAuthority, createHttpAuthority } from '@cycles-guard/core';
import { type RedisServer, startRedisServer } from '@cycles-guard/redis/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';

// Two servers on one Redis answer the same spend report: every charge either confirmed is in both.

const ADMIN_KEY = 'spend-admin-key-0001';
const TENANT_KEYS = { 'spend-acme-key-0001': 'acme', 'spend-beta-key-0001': 'beta' };
const TENANTS = ['acme', 'beta'] as const;
const MODELS = ['model.a', 'model.b'] as const;
const PREFIX = 'spend-shared:';

let redis: RedisServer;
const servers: CyclesServer[] = [];
/** `authorities[server][tenant]`: a tenant's client of one server. */
const authorities: Record<string, BudgetAuthority>[] = [];

async function start(): Promise<CyclesServer> {
  const server = await startCyclesServer({
    port: 0,
    logLevel: 'silent',
    ledger: { type: 'redis', url: redis.url, keyPrefix: PREFIX },
    adminApiKey: ADMIN_KEY,
    apiKeys: TENANT_KEYS,
    ledgers: TENANTS.map((tenant) => ({ scope: `tenant:${tenant}`, unit: 'TOKENS', allocated: 1e12 })),
  });
  servers.push(server);
  return server;
}

beforeAll(async () => {
  redis = await startRedisServer();
  for (let index = 0; index < 2; index++) {
    const server = await start();
    authorities.push(
      Object.fromEntries(
        Object.entries(TENANT_KEYS).map(([apiKey, tenant]) => [
          tenant,
          createHttpAuthority({ baseUrl: server.url, apiKey }),
        ]),
      ),
    );
  }
});
afterAll(async () => {
  for (const server of servers.splice(0)) await server.close();
  await redis?.remove();
});

type Totals = Record<string, { amount: number; count: number }>;

/** The report of one server, `tenant|model` → amount and count. */
async function report(server: CyclesServer, headers: Record<string, string>): Promise<Totals> {
  const response = await fetch(`${server.url}/v1/x-cycles-guard/reports/spend?group_by=tenant,model`, {
    headers,
  });
  expect(response.status).toBe(200);
  const body = (await response.json()) as {
    rows: { tenant: string; model: string; amount: number; count: number }[];
  };
  return Object.fromEntries(
    body.rows.map((row) => [`${row.tenant}|${row.model}`, { amount: row.amount, count: row.count }]),
  );
}

/** Charges are written after the commits are answered (one pipeline a turn): a report catches up. */
const CATCH_UP = { timeout: 3_000, interval: 20 };

let charges = 0;
async function charge(server: number, tenant: string, model: string, amount: number): Promise<void> {
  const authority = authorities[server]?.[tenant] as BudgetAuthority;
  const held = await authority.reserve({
    idempotencyKey: `spend-${++charges}`,
    subject: { tenant },
    action: { kind: 'llm.completion', name: model },
    estimate: { unit: 'TOKENS', amount },
  });
  await authority.commit(held.reservationId as string, {
    idempotencyKey: `spend-${charges}:commit`,
    actual: { unit: 'TOKENS', amount },
  });
}

describe('spend report on Redis', () => {
  it('both servers report every charge either confirmed, and agree with the ledger (property)', async () => {
    const expected: Totals = {};
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            server: fc.integer({ min: 0, max: 1 }),
            tenant: fc.constantFrom(...TENANTS),
            model: fc.constantFrom(...MODELS),
            amount: fc.integer({ min: 1, max: 10_000 }),
          }),
          { minLength: 1, maxLength: 20 },
        ),
        async (calls) => {
          await Promise.all(calls.map((call) => charge(call.server, call.tenant, call.model, call.amount)));
          for (const { tenant, model, amount } of calls) {
            const row = expected[`${tenant}|${model}`] ?? { amount: 0, count: 0 };
            row.amount += amount;
            row.count++;
            expected[`${tenant}|${model}`] = row;
          }
          for (const server of servers) {
            await expect
              .poll(() => report(server, { 'X-Admin-API-Key': ADMIN_KEY }), CATCH_UP)
              .toEqual(expected);
          }
          for (const tenant of TENANTS) {
            const spent = (await servers[0]?.ledger.getLedger(`tenant:${tenant}`, 'TOKENS'))?.spent ?? 0;
            const reported = MODELS.reduce(
              (sum, model) => sum + (expected[`${tenant}|${model}`]?.amount ?? 0),
              0,
            );
            expect(reported).toBe(spent);
          }
        },
      ),
      { numRuns: 8 },
    );
  });

  it('a tenant key sees its own spend from either server, and a server started later sees it all', async () => {
    const all = { 'X-Admin-API-Key': ADMIN_KEY };
    await charge(0, 'acme', 'model.a', 7);
    await charge(1, 'beta', 'model.b', 9);
    await expect
      .poll(async () => {
        const rows = await report(servers[0] as CyclesServer, all);
        return (rows['acme|model.a']?.count ?? 0) > 0 && (rows['beta|model.b']?.count ?? 0) > 0;
      }, CATCH_UP)
      .toBe(true);
    const acmeKey = Object.keys(TENANT_KEYS)[0] as string;
    const own = await report(servers[1] as CyclesServer, { 'X-Cycles-API-Key': acmeKey });
    expect(Object.keys(own).length).toBeGreaterThan(0);
    expect(Object.keys(own).every((key) => key.startsWith('acme|'))).toBe(true);
    const admin = await report(servers[0] as CyclesServer, all);
    await expect.poll(() => report(servers[1] as CyclesServer, all), CATCH_UP).toEqual(admin);
    const late = await start();
    expect(await report(late, all)).toEqual(admin);
  });
});
