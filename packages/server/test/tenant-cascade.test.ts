import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type RedisServer, startRedisServer } from '@cycles-guard/redis/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CyclesServer, type StartServerOptions, startCyclesServer } from '../src/server.ts';
import { govSchemaProblems } from './support/gov-contract.ts';
import { govFetch } from './support/gov-fetch.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';
import { LOOPBACK_WEBHOOKS } from './support/loopback-webhooks.ts';

// GOV CASCADE SEMANTICS Rule 1 (tenant close) over HTTP on a real server, on the memory ledger and on a
// real redis-server: every owned budget, live reservation, API key and webhook subscription ends terminal,
// once, with one EventDataTenantCascade event each under the close's correlation id; every later admin
// write on them answers 409 TENANT_CLOSED and every call with the tenant's keys 401 (revoked); a re-close
// or a restart completes an interrupted cascade.

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON bodies, checked against the GOV schemas
type Json = any;

const ACME_KEY = 'acme-key-0123456789';
/** The id the server gives ACME_KEY (config keys have none of their own): never the key itself. */
const ACME_KEY_ID = `key_${createHash('sha256').update(ACME_KEY).digest('hex').slice(0, 16)}`;
const CASCADE_TYPES = [
  'api_key.revoked_via_tenant_cascade',
  'budget.closed_via_tenant_cascade',
  'reservation.released_via_tenant_cascade',
  'webhook.disabled_via_tenant_cascade',
];

let redis: RedisServer;
let receiver: Server;
let receiverUrl: string;
beforeAll(async () => {
  redis = await startRedisServer();
  receiver = createServer((_request, response) => response.writeHead(204).end());
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
});
afterAll(async () => {
  await new Promise((resolve) => receiver?.close(resolve));
  await redis?.remove();
});

const servers: CyclesServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

let prefixes = 0;

async function call(
  server: CyclesServer,
  method: string,
  path: string,
  options: { key?: string; body?: unknown } = {},
): Promise<{ status: number; body: Json }> {
  const auth = options.key === undefined ? { admin: true as const } : { key: options.key };
  const reply = await govFetch(server.url, method, path, auth, options.body);
  if (path.startsWith('/v1/admin/events') || path.includes('webhooks')) expect(reply.problems).toEqual([]);
  return { status: reply.status, body: reply.body };
}

describe.each(['memory', 'redis'] as const)('tenant close cascade on the %s ledger', (kind) => {
  let prefix = '';
  /** A server over a fresh store, or with `sameStore` over the last one (a restart). */
  async function start(sameStore = false): Promise<CyclesServer> {
    if (!sameStore) prefix = `tc${++prefixes}:`;
    const extra: Partial<StartServerOptions> =
      sameStore && kind === 'memory' ? { ledgerInstance: servers[0]!.ledger } : {};
    const server = await startCyclesServer({
      port: 0,
      adminApiKey: ADMIN_KEY,
      apiKeys: { [ACME_KEY]: 'acme' },
      webhookSecurity: LOOPBACK_WEBHOOKS,
      ...(kind === 'redis' ? { ledger: { type: 'redis' as const, url: redis.url, keyPrefix: prefix } } : {}),
      logLevel: 'silent',
      ...extra,
    });
    servers.push(server);
    return server;
  }

  let idempotency = 0;
  async function reserve(server: CyclesServer, amount: number, app?: string): Promise<string> {
    const answer = await call(server, 'POST', '/v1/reservations', {
      key: ACME_KEY,
      body: {
        idempotency_key: `r-${++idempotency}`,
        subject: { tenant: 'acme', ...(app === undefined ? {} : { app }) },
        action: { kind: 'llm.completion', name: 'm' },
        estimate: { unit: 'TOKENS', amount },
        ttl_ms: 600_000,
      },
    });
    expect(answer.status).toBe(200);
    return answer.body.reservation_id;
  }

  /** Two TOKENS budgets (parent and app), a FROZEN USD one, two subscriptions (one PAUSED), a spend and two live holds. */
  async function provision(server: CyclesServer): Promise<{ live: string[] }> {
    // (A setting, not {}: the Redis ledger keeps no record of a tenant set with no settings.)
    const settings = { body: { default_reservation_ttl_ms: 60_000 } };
    expect((await call(server, 'PUT', '/v1/admin/tenants/acme', settings)).status).toBe(204);
    const budgets = [
      { scope: 'tenant:acme', unit: 'TOKENS', allocated: 1000 },
      { scope: 'tenant:acme/app:chat', unit: 'TOKENS', allocated: 500 },
      { scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 7 },
      { scope: 'tenant:other', unit: 'TOKENS', allocated: 10 },
    ];
    for (const budget of budgets) {
      expect((await call(server, 'POST', '/v1/admin/budgets', { body: budget })).status).toBe(201);
    }
    const frozen = '/v1/admin/budgets?scope=tenant:acme&unit=USD_MICROCENTS';
    expect((await call(server, 'PATCH', frozen, { body: { status: 'FROZEN' } })).status).toBe(200);
    for (const status of ['ACTIVE', 'PAUSED']) {
      const created = await call(server, 'POST', '/v1/admin/webhooks?tenant_id=acme', {
        body: { url: receiverUrl, event_types: ['budget.exhausted'], name: `hook-${status}` },
      });
      expect(created.status).toBe(201);
      if (status === 'PAUSED') {
        const id = created.body.subscription.subscription_id;
        const paused = await call(server, 'PATCH', `/v1/admin/webhooks/${id}`, { body: { status } });
        expect(paused.status).toBe(200);
      }
    }
    const spent = await reserve(server, 30, 'chat');
    const commit = await call(server, 'POST', `/v1/reservations/${spent}/commit`, {
      key: ACME_KEY,
      body: { idempotency_key: 'c-1', actual: { unit: 'TOKENS', amount: 20 } },
    });
    expect(commit.status).toBe(200);
    return { live: [await reserve(server, 100, 'chat'), await reserve(server, 50)] };
  }

  async function closeAcme(server: CyclesServer): Promise<void> {
    expect((await call(server, 'PUT', '/v1/admin/tenants/acme', { body: { status: 'CLOSED' } })).status).toBe(
      204,
    );
  }

  /** acme's events (admin listing, GOV-checked), once their count has settled (Redis stores them off the path). */
  async function events(server: CyclesServer): Promise<Json[]> {
    let listed: Json[] = [];
    for (let waited = 0; waited < 2000; waited += 50) {
      const page = await call(server, 'GET', '/v1/admin/events?tenant_id=acme&sort_dir=asc&limit=100');
      expect(page.status).toBe(200);
      if (page.body.events.length === listed.length && waited > 0) break;
      listed = page.body.events;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return listed;
  }

  function cascadeEvents(all: Json[]): Json[] {
    const cascade = all.filter((event) => CASCADE_TYPES.includes(event.event_type));
    for (const event of cascade) {
      expect(govSchemaProblems('EventDataTenantCascade', event.data), event.event_type).toEqual([]);
      expect(event.data.cascade_reason).toBe('tenant_closed');
    }
    return cascade;
  }

  async function budgetsOf(server: CyclesServer, tenant: string): Promise<Json[]> {
    const listed = await call(server, 'GET', '/v1/admin/budgets');
    return listed.body.ledgers.filter((ledger: Json) => ledger.scope.startsWith(`tenant:${tenant}`));
  }

  it('drives every budget, live reservation and subscription terminal, one event each', async () => {
    const server = await start();
    const { live } = await provision(server);
    await closeAcme(server);

    const budgets = await budgetsOf(server, 'acme');
    expect(budgets).toHaveLength(3);
    for (const budget of budgets) {
      expect(budget.status).toBe('CLOSED');
      expect(budget.reserved).toBe(0);
      expect(budget.remaining).toBe(budget.allocated - budget.spent - budget.debt);
    }
    expect(budgets.find((b: Json) => b.scope === 'tenant:acme/app:chat').remaining).toBe(480);
    const [other] = await budgetsOf(server, 'other');
    expect(other.status).toBe('ACTIVE');

    for (const id of live) expect((await server.ledger.getReservation(id)).status).toBe('RELEASED');
    // The close revoked acme's key: every call with it answers 401, naming why; the admin key still reads (d).
    for (const [method, path] of [
      ['GET', `/v1/reservations/${live[0]}`],
      ['GET', '/v1/balances?tenant=acme'],
      ['GET', '/v1/auth/introspect'],
      ['POST', `/v1/reservations/${live[0]}/release`],
    ] as const) {
      const revoked = await call(server, method, path, {
        key: ACME_KEY,
        ...(method === 'POST' ? { body: { idempotency_key: 'after-close' } } : {}),
      });
      expect([revoked.status, revoked.body.error, revoked.body.details], `${method} ${path}`).toEqual([
        401,
        'UNAUTHORIZED',
        { tenant: 'acme', reason: 'KEY_REVOKED' },
      ]);
      expect(revoked.body.message).toContain('tenant acme is closed');
    }
    const hooks = await call(server, 'GET', '/v1/admin/webhooks?tenant_id=acme');
    expect(hooks.body.subscriptions.map((s: Json) => s.status)).toEqual(['DISABLED', 'DISABLED']);

    const all = await events(server);
    const closed = all.find((event) => event.event_type === 'tenant.closed');
    expect(closed.correlation_id).toMatch(/^tenant_close:acme:/);
    const cascade = cascadeEvents(all);
    expect(cascade.every((event) => event.correlation_id === closed.correlation_id)).toBe(true);
    const summary = cascade.map((event) => [
      event.event_type,
      event.data.scope ?? event.data.name ?? event.data.key_id,
      event.data.unit ?? null,
      event.data.prior_status,
      event.data.new_status ?? null,
      event.data.released_amount ?? null,
    ]);
    expect(summary.sort()).toEqual(
      [
        ['api_key.revoked_via_tenant_cascade', ACME_KEY_ID, null, 'ACTIVE', 'REVOKED', null],
        ['budget.closed_via_tenant_cascade', 'tenant:acme', 'TOKENS', 'ACTIVE', 'CLOSED', null],
        ['budget.closed_via_tenant_cascade', 'tenant:acme/app:chat', 'TOKENS', 'ACTIVE', 'CLOSED', null],
        ['budget.closed_via_tenant_cascade', 'tenant:acme', 'USD_MICROCENTS', 'FROZEN', 'CLOSED', null],
        ['reservation.released_via_tenant_cascade', 'tenant:acme', 'TOKENS', 'ACTIVE', null, 150],
        ['reservation.released_via_tenant_cascade', 'tenant:acme/app:chat', 'TOKENS', 'ACTIVE', null, 100],
        ['webhook.disabled_via_tenant_cascade', 'hook-ACTIVE', null, 'ACTIVE', 'DISABLED', null],
        ['webhook.disabled_via_tenant_cascade', 'hook-PAUSED', null, 'PAUSED', 'DISABLED', null],
      ].sort(),
    );
    for (const event of cascade) {
      const id = event.data.subscription_id ?? event.data.ledger_id ?? event.data.key_id;
      expect(typeof id).toBe('string');
    }

    // Re-closing completes nothing new and emits nothing.
    await closeAcme(server);
    expect(await events(server)).toHaveLength(all.length);
  });

  it('answers 409 TENANT_CLOSED to every write on a closed tenant’s budgets, 401 to its revoked key', async () => {
    const server = await start();
    const { live } = await provision(server);
    await closeAcme(server);
    const budget = '/v1/admin/budgets?scope=tenant:acme/app:chat&unit=TOKENS';
    const writes: Array<[string, string, { key?: string; body?: unknown }]> = [
      [
        'POST',
        `/v1/reservations/${live[0]}/commit`,
        { key: ACME_KEY, body: { idempotency_key: 'x1', actual: { unit: 'TOKENS', amount: 5 } } },
      ],
      ['POST', `/v1/reservations/${live[0]}/release`, { key: ACME_KEY, body: { idempotency_key: 'x2' } }],
      [
        'POST',
        `/v1/reservations/${live[1]}/extend`,
        { key: ACME_KEY, body: { idempotency_key: 'x3', extend_by_ms: 1000 } },
      ],
      [
        'POST',
        '/v1/reservations',
        {
          key: ACME_KEY,
          body: {
            idempotency_key: 'x4',
            subject: { tenant: 'acme' },
            action: { kind: 'llm.completion', name: 'm' },
            estimate: { unit: 'TOKENS', amount: 1 },
          },
        },
      ],
      ['POST', budget.replace('budgets', 'budgets/fund'), { body: { operation: 'CREDIT', amount: 5 } }],
      ['PATCH', budget, { body: { status: 'FROZEN' } }],
      ['PATCH', '/v1/admin/budgets?scope=tenant:acme&unit=USD_MICROCENTS', { body: { status: 'ACTIVE' } }],
      ['PATCH', budget, { body: { overdraft_limit: 10 } }],
      ['DELETE', budget, {}],
      ['POST', '/v1/admin/budgets', { body: { scope: 'tenant:acme/app:new', unit: 'TOKENS', allocated: 5 } }],
    ];
    for (const [method, path, options] of writes) {
      const answer = await call(server, method, path, options);
      const refusal = options.key === undefined ? [409, 'TENANT_CLOSED'] : [401, 'UNAUTHORIZED'];
      expect([answer.status, answer.body.error], `${method} ${path}`).toEqual(refusal);
    }
    // A CLOSED tenant is never re-opened, not even by a PUT that leaves status out.
    for (const body of [{ status: 'ACTIVE' }, { default_reservation_ttl_ms: 1000 }]) {
      const reopen = await call(server, 'PUT', '/v1/admin/tenants/acme', { body });
      expect([reopen.status, reopen.body.error]).toEqual([409, 'TENANT_CLOSED']);
    }
    // A PUT racing a close never re-opens it: either it lands first (204) or it is refused.
    await call(server, 'PUT', '/v1/admin/tenants/other', { body: {} });
    const raced = await Promise.all([
      call(server, 'PUT', '/v1/admin/tenants/other', { body: { status: 'CLOSED' } }),
      call(server, 'PUT', '/v1/admin/tenants/other', { body: { default_reservation_ttl_ms: 1000 } }),
    ]);
    expect(raced[0].status).toBe(204);
    expect([204, 409]).toContain(raced[1].status);
    expect((await server.ledger.getTenant?.('other'))?.status).toBe('CLOSED');
    // Another tenant's budgets are untouched by the guard.
    await call(server, 'POST', '/v1/admin/budgets', {
      body: { scope: 'tenant:third', unit: 'TOKENS', allocated: 1 },
    });
    const fund = await call(server, 'POST', '/v1/admin/budgets/fund?scope=tenant:third&unit=TOKENS', {
      body: { operation: 'CREDIT', amount: 5 },
    });
    expect(fund.status).toBe(200);
  });

  it('completes an interrupted cascade on re-close, the holds left live included', async () => {
    const server = await start();
    const { live } = await provision(server);
    // A close that stopped right after the flip: the tenant is CLOSED, nothing else moved.
    await server.ledger.setTenant('acme', { status: 'CLOSED' });
    await closeAcme(server);
    const budgets = await budgetsOf(server, 'acme');
    expect(budgets.map((b: Json) => b.status)).toEqual(['CLOSED', 'CLOSED', 'CLOSED']);
    const hooks = await call(server, 'GET', '/v1/admin/webhooks?tenant_id=acme');
    expect(hooks.body.subscriptions.map((s: Json) => s.status)).toEqual(['DISABLED', 'DISABLED']);
    const completed = cascadeEvents(await events(server));
    expect(completed.map((event) => event.event_type).sort()).toEqual([
      // The key's event was never published (the close stopped before it): the re-close reports it.
      'api_key.revoked_via_tenant_cascade',
      'budget.closed_via_tenant_cascade',
      'budget.closed_via_tenant_cascade',
      'budget.closed_via_tenant_cascade',
      'reservation.released_via_tenant_cascade',
      'reservation.released_via_tenant_cascade',
      'webhook.disabled_via_tenant_cascade',
      'webhook.disabled_via_tenant_cascade',
    ]);
    expect(new Set(completed.map((event) => event.correlation_id)).size).toBe(1);
    // No settlement call can release a CLOSED tenant's holds; the re-close's ledger step did.
    expect(budgets.find((b: Json) => b.scope === 'tenant:acme' && b.unit === 'TOKENS').reserved).toBe(0);
    for (const id of live) expect((await server.ledger.getReservation(id)).status).toBe('RELEASED');
    // The tenant was CLOSED before this server's close: its key is revoked all the same.
    const revoked = await call(server, 'GET', `/v1/reservations/${live[0]}`, { key: ACME_KEY });
    expect(revoked.status).toBe(401);
  });

  it('completes an interrupted cascade on a restart by the startup sweep', async () => {
    const first = await start();
    await provision(first);
    // A close that stopped right after the flip (mode B): the tenant is CLOSED, nothing else moved.
    await first.ledger.setTenant('acme', { status: 'CLOSED' });
    expect((await budgetsOf(first, 'acme')).every((b: Json) => b.status !== 'CLOSED')).toBe(true);

    // A restart (a second server over the same store) sweeps it at start.
    const second = await start(true);
    let budgets: Json[] = [];
    for (let waited = 0; waited < 2000; waited += 50) {
      budgets = await budgetsOf(second, 'acme');
      if (budgets.every((b: Json) => b.status === 'CLOSED')) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(budgets.map((b: Json) => b.status)).toEqual(['CLOSED', 'CLOSED', 'CLOSED']);
    // Subscriptions outlive a restart on Redis only (the memory store is the process's own).
    const hooks = await call(second, 'GET', '/v1/admin/webhooks?tenant_id=acme');
    const kept = kind === 'redis' ? ['DISABLED', 'DISABLED'] : [];
    expect(hooks.body.subscriptions.map((s: Json) => s.status)).toEqual(kept);
    const swept = cascadeEvents(await events(second));
    expect(swept.map((event) => event.event_type).sort()).toEqual([
      // Never published before the cut: reported by the sweep.
      'api_key.revoked_via_tenant_cascade',
      'budget.closed_via_tenant_cascade',
      'budget.closed_via_tenant_cascade',
      'budget.closed_via_tenant_cascade',
      // The two holds the flip alone left live, released by the sweep's ledger step.
      'reservation.released_via_tenant_cascade',
      'reservation.released_via_tenant_cascade',
      ...kept.map(() => 'webhook.disabled_via_tenant_cascade'),
    ]);
    expect((await budgetsOf(second, 'acme')).every((b: Json) => b.reserved === 0)).toBe(true);
    expect(swept.every((event) => event.correlation_id === 'tenant_close:acme:sweep')).toBe(true);
    // A re-close afterwards has nothing left to do.
    await closeAcme(second);
    expect(cascadeEvents(await events(second))).toHaveLength(swept.length);
  });

  it('reports each revoked key once: a cut-off close re-closed through two servers at once, then swept', async () => {
    const first = await start();
    await provision(first);
    // A close cut off right after the flip: no event went out.
    await first.ledger.setTenant('acme', { status: 'CLOSED' });
    // Another server over the same store (a restart on memory) sweeps at start; both re-close at once.
    const second = await start(true);
    await Promise.all([closeAcme(first), closeAcme(second)]);
    // And one more start sweeps again.
    const third = await start(true);
    const keyEvents = cascadeEvents(await events(third)).filter(
      (event) => event.event_type === 'api_key.revoked_via_tenant_cascade',
    );
    expect(keyEvents.map((event) => event.data.key_id)).toEqual([ACME_KEY_ID]);
  });
});
