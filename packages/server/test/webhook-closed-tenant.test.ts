import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type RedisServer, startRedisServer } from '@cycles-guard/redis/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CyclesServer, type StartServerOptions, startCyclesServer } from '../src/server.ts';
import { govFetch } from './support/gov-fetch.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';
import { LOOPBACK_WEBHOOKS } from './support/loopback-webhooks.ts';

// GOV CASCADE Rule 2 on webhooks: once a tenant is CLOSED, its subscriptions can be read but not
// created, changed, deleted or probed: 409 TENANT_CLOSED to the admin key, as every other admin write of
// a closed tenant answers, 401 to the tenant's own key (the close revoked it, Rule 1), and the probe
// sends nothing. On both ledgers (a real redis-server for Redis).

const KEY = 'acme-key-closed-01';
let redis: RedisServer;
let receiver: Server;
let hook: string;
let posts = 0;
let server: CyclesServer | undefined;
let prefixes = 0;
const violations: string[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  receiver = createServer((request, response) => {
    posts++;
    request.resume();
    request.on('end', () => {
      response.statusCode = 204;
      response.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  expect(violations.splice(0), 'GOV contract violations').toEqual([]);
});

afterAll(async () => {
  await new Promise((resolve) => receiver?.close(resolve));
  await redis?.remove();
});

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON bodies, GOV-checked by send()
type Json = any;

async function send(method: string, path: string, admin: boolean, body?: unknown) {
  const reply = await govFetch(server!.url, method, path, admin ? { admin: true } : { key: KEY }, body);
  if (path.startsWith('/v1/admin/webhooks') || path.startsWith('/v1/webhooks'))
    violations.push(...reply.problems);
  return { status: reply.status, body: (reply.body ?? {}) as Json };
}

const ledgers: [string, () => StartServerOptions['ledger']][] = [
  ['memory', () => ({ type: 'memory' })],
  ['redis', () => ({ type: 'redis', url: redis.url, keyPrefix: `closed-${++prefixes}:` })],
];

describe.each(ledgers)('webhooks of a CLOSED tenant (%s ledger)', (_name, ledger) => {
  /** A server of tenant acme (key KEY, 1,000 tokens) on this ledger, delivering to loopback. */
  const startAcme = () =>
    startCyclesServer({
      port: 0,
      adminApiKey: ADMIN_KEY,
      apiKeys: { [KEY]: 'acme' },
      ledger: ledger(),
      ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1000 }],
      logLevel: 'silent',
      webhookSecurity: LOOPBACK_WEBHOOKS,
    });

  it('are refused on every write and probe, send nothing, and can still be read by the admin', async () => {
    posts = 0;
    server = await startAcme();
    const created = await send('POST', '/v1/webhooks', false, {
      url: hook,
      event_types: ['budget.exhausted'],
    });
    expect(created.status).toBe(201);
    const id = created.body.subscription.subscription_id as string;
    // Open, the probe goes out.
    expect((await send('POST', `/v1/webhooks/${id}/test`, false)).body.success).toBe(true);
    expect(posts).toBe(1);

    expect((await send('PUT', '/v1/admin/tenants/acme', true, { status: 'CLOSED' })).status).toBe(204);
    posts = 0;
    const refusals = [
      await send('POST', `/v1/admin/webhooks/${id}/test`, true),
      await send('POST', `/v1/webhooks/${id}/test`, true),
      await send('PATCH', `/v1/admin/webhooks/${id}`, true, { name: 'renamed' }),
      await send('DELETE', `/v1/admin/webhooks/${id}`, true),
      await send('POST', '/v1/admin/webhooks?tenant_id=acme', true, {
        url: hook,
        event_types: ['budget.exhausted'],
      }),
    ];
    for (const refusal of refusals) {
      expect(refusal).toMatchObject({
        status: 409,
        body: { error: 'TENANT_CLOSED', details: { tenant: 'acme' } },
      });
      expect(refusal.body.message).toContain('Tenant acme is closed');
    }
    const revoked = [
      await send('POST', `/v1/webhooks/${id}/test`, false),
      await send('PATCH', `/v1/webhooks/${id}`, false, { status: 'PAUSED' }),
      await send('DELETE', `/v1/webhooks/${id}`, false),
      await send('POST', '/v1/webhooks', false, { url: hook, event_types: ['budget.exhausted'] }),
      await send('GET', `/v1/webhooks/${id}`, false),
    ];
    for (const refusal of revoked) {
      expect(refusal).toMatchObject({
        status: 401,
        body: { error: 'UNAUTHORIZED', details: { tenant: 'acme', reason: 'KEY_REVOKED' } },
      });
    }
    await server.webhooks!.idle();
    expect(posts).toBe(0);

    // Reads stay open; the refused writes changed nothing: the close disabled the subscription (Rule 1)
    // and it stays so, with the one probe sent while the tenant was open.
    const read = await send('GET', `/v1/admin/webhooks/${id}`, true);
    expect(read).toMatchObject({ status: 200, body: { status: 'DISABLED' } });
    expect(read.body).not.toHaveProperty('name');
    const deliveries = await send('GET', `/v1/admin/webhooks/${id}/deliveries`, true);
    expect(deliveries.body.deliveries).toHaveLength(1);
    expect((await send('GET', '/v1/admin/webhooks?tenant_id=acme', true)).body.subscriptions).toHaveLength(1);
  });

  it('stay disabled when a delivery in flight at the close fails after it', async () => {
    // The failure is counted on the subscription: written back from the dispatcher's copy taken before the
    // close, it stored the subscription ACTIVE again (and every server reloaded it so on Redis).
    let answer = () => {};
    const answered = new Promise<void>((resolve) => {
      answer = resolve;
    });
    let arrived = () => {};
    const arrival = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const failing = createServer((request, response) => {
      request.resume();
      arrived();
      void answered.then(() => {
        response.statusCode = 503;
        response.end();
      });
    });
    await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve));
    try {
      server = await startAcme();
      const created = await send('POST', '/v1/webhooks', false, {
        url: `http://127.0.0.1:${(failing.address() as AddressInfo).port}/hook`,
        event_types: ['reservation.denied'],
      });
      expect(created.status).toBe(201);
      const id = created.body.subscription.subscription_id as string;
      const denied = await send('POST', '/v1/reservations', false, {
        idempotency_key: 'over-budget',
        subject: { tenant: 'acme' },
        action: { kind: 'llm.completion', name: 'm' },
        estimate: { unit: 'TOKENS', amount: 5000 },
      });
      expect(denied.status).toBe(409);
      await arrival;
      expect((await send('PUT', '/v1/admin/tenants/acme', true, { status: 'CLOSED' })).status).toBe(204);
      answer();
      await expect
        .poll(async () => (await server!.webhooks!.store.subscription(id))?.consecutive_failures)
        .toBe(1);
      expect(await server!.webhooks!.store.subscription(id)).toMatchObject({ status: 'DISABLED' });
      await server!.webhooks!.refresh();
      expect((await send('GET', `/v1/admin/webhooks/${id}`, true)).body.status).toBe('DISABLED');
    } finally {
      failing.closeAllConnections();
      await new Promise((resolve) => failing.close(resolve));
    }
  });
});
