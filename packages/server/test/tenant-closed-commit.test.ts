import { type RedisServer, startRedisServer } from '@cycles-guard/redis/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CyclesServer, type StartServerOptions, startCyclesServer } from '../src/server.ts';
import { govFetch } from './support/gov-fetch.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';

// GOV Rule 1 on a commit that comes after the close, through a server that did not close the tenant
// (two servers over one real redis-server, or over one memory ledger): the ledger refuses it, 409
// TENANT_CLOSED naming the tenant and its status; the hold stays RELEASED by the close, so the budget's
// spend is what was committed before the close and nothing stays reserved; a same-key replay of a commit
// answered before the close returns its stored answer (RT: replays beat the closed-tenant guard).

const KEY = 'acme-key-late-commit';
let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.remove();
});

const servers: CyclesServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0).reverse()) await server.close();
});

let prefixes = 0;
async function startPair(kind: 'memory' | 'redis'): Promise<[CyclesServer, CyclesServer]> {
  const prefix = `late-commit-${++prefixes}:`;
  const options = (ledgerInstance?: StartServerOptions['ledgerInstance']): StartServerOptions => ({
    port: 0,
    adminApiKey: ADMIN_KEY,
    apiKeys: { [KEY]: 'acme' },
    ...(kind === 'redis'
      ? { ledger: { type: 'redis' as const, url: redis.url, keyPrefix: prefix } }
      : ledgerInstance === undefined
        ? {}
        : { ledgerInstance }),
    ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1000 }],
    logLevel: 'silent',
  });
  const closer = await startCyclesServer(options());
  servers.push(closer);
  const other = await startCyclesServer(options(closer.ledger));
  servers.push(other);
  return [closer, other];
}

let keys = 0;
const tenantCall = (server: CyclesServer, path: string, body: object) =>
  govFetch(server.url, 'POST', path, { key: KEY }, { idempotency_key: `lc-${++keys}`, ...body });
const reserve = async (server: CyclesServer, amount: number): Promise<string> => {
  const answer = await tenantCall(server, '/v1/reservations', {
    subject: { tenant: 'acme' },
    action: { kind: 'llm.completion', name: 'm' },
    estimate: { unit: 'TOKENS', amount },
    ttl_ms: 600_000,
  });
  expect(answer.status).toBe(200);
  return answer.body.reservation_id;
};

describe.each(['memory', 'redis'] as const)('a commit after a tenant close (%s ledger)', (kind) => {
  it('is refused by the ledger, naming the tenant closed; the released hold charges nothing', async () => {
    const [closer, other] = await startPair(kind);
    const committed = await reserve(other, 50);
    const commitBody = { idempotency_key: 'lc-before', actual: { unit: 'TOKENS', amount: 30 } };
    const before = await govFetch(
      other.url,
      'POST',
      `/v1/reservations/${committed}/commit`,
      { key: KEY },
      commitBody,
    );
    expect([before.status, before.body.status]).toEqual([200, 'COMMITTED']);
    const held = await reserve(other, 100);

    const close = await govFetch(
      closer.url,
      'PUT',
      '/v1/admin/tenants/acme',
      { admin: true },
      { status: 'CLOSED' },
    );
    expect(close.status).toBe(204);

    // The other server still takes the key (it learns of the close from the ledger's refusal).
    const replay = await govFetch(
      other.url,
      'POST',
      `/v1/reservations/${committed}/commit`,
      { key: KEY },
      commitBody,
    );
    expect([replay.status, replay.body]).toEqual([200, before.body]);
    const late = await tenantCall(other, `/v1/reservations/${held}/commit`, {
      actual: { unit: 'TOKENS', amount: 80 },
    });
    expect(late.problems).toEqual([]);
    expect([late.status, late.body.error, late.body.details]).toEqual([
      409,
      'TENANT_CLOSED',
      { tenant: 'acme' },
    ]);
    expect(late.body.message).toBe('Tenant acme is closed');
    // After that refusal, the key is revoked there too.
    const revoked = await tenantCall(other, `/v1/reservations/${held}/commit`, {
      actual: { unit: 'TOKENS', amount: 80 },
    });
    expect([revoked.status, revoked.body.details]).toEqual([401, { tenant: 'acme', reason: 'KEY_REVOKED' }]);

    expect((await closer.ledger.getReservation(held)).status).toBe('RELEASED');
    expect((await closer.ledger.getReservation(committed)).status).toBe('COMMITTED');
    const budgets = await govFetch(closer.url, 'GET', '/v1/admin/budgets', { admin: true });
    const budget = budgets.body.ledgers.find((b: { scope: string }) => b.scope === 'tenant:acme');
    expect(budget).toMatchObject({
      status: 'CLOSED',
      allocated: 1000,
      spent: 30,
      reserved: 0,
      remaining: 970,
      debt: 0,
    });
  });
});
