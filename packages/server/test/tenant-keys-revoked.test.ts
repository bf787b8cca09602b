import { type RedisServer, startRedisServer } from '@cycles-guard/redis/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { govFetch } from './support/gov-fetch.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';

// GOV Rule 1 revokes a closed tenant's API keys. Keys come from config, so revocation follows the
// tenant's status in the shared ledger: on two servers over one real redis-server, the one that did not
// close the tenant answers its first write with the ledger's 409 TENANT_CLOSED and every call after it
// with 401; a server started after the close answers 401 from the first call.

const KEY = 'acme-key-revoked-01';
const OTHER_KEY = 'other-key-open-0001';

let redis: RedisServer;
const servers: CyclesServer[] = [];
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  for (const server of servers) await server.close();
  await redis?.remove();
});

async function start(): Promise<CyclesServer> {
  const server = await startCyclesServer({
    port: 0,
    adminApiKey: ADMIN_KEY,
    apiKeys: { [KEY]: 'acme', [OTHER_KEY]: 'other' },
    ledger: { type: 'redis', url: redis.url, keyPrefix: 'revoked:' },
    ledgers: [
      { scope: 'tenant:acme', unit: 'TOKENS', allocated: 1000 },
      { scope: 'tenant:other', unit: 'TOKENS', allocated: 1000 },
    ],
    logLevel: 'silent',
  });
  servers.push(server);
  return server;
}

let keys = 0;
function reserve(server: CyclesServer, key: string, tenant: string) {
  return govFetch(
    server.url,
    'POST',
    '/v1/reservations',
    { key },
    {
      idempotency_key: `k-${++keys}`,
      subject: { tenant },
      action: { kind: 'llm.completion', name: 'm' },
      estimate: { unit: 'TOKENS', amount: 1 },
    },
  );
}

describe('a closed tenant’s keys across servers', () => {
  it('are refused by the ledger on the other server, then revoked there; a later server revokes them at once', async () => {
    const closer = await start();
    const other = await start();
    // Both servers have seen acme open.
    for (const server of [closer, other]) expect((await reserve(server, KEY, 'acme')).status).toBe(200);
    const closed = await govFetch(
      closer.url,
      'PUT',
      '/v1/admin/tenants/acme',
      { admin: true },
      { status: 'CLOSED' },
    );
    expect(closed.status).toBe(204);

    expect((await reserve(closer, KEY, 'acme')).status).toBe(401);
    const refused = await reserve(other, KEY, 'acme');
    expect([refused.status, (refused.body as { error: string }).error]).toEqual([409, 'TENANT_CLOSED']);
    const revoked = await govFetch(other.url, 'GET', '/v1/auth/introspect', { key: KEY });
    expect([revoked.status, revoked.body]).toMatchObject([
      401,
      { error: 'UNAUTHORIZED', details: { tenant: 'acme', reason: 'KEY_REVOKED' } },
    ]);

    const later = await start();
    expect((await govFetch(later.url, 'GET', '/v1/balances?tenant=acme', { key: KEY })).status).toBe(401);
    // Another tenant's key is untouched everywhere.
    for (const server of [closer, other, later]) {
      expect((await reserve(server, OTHER_KEY, 'other')).status).toBe(200);
      expect((await govFetch(server.url, 'GET', '/v1/auth/introspect', { key: OTHER_KEY })).status).toBe(200);
    }
  });
});
