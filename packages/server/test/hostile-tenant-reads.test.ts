import { afterEach, describe, expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { type GovAuth, type GovReply, govFetch } from './support/gov-fetch.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';
import { useRedisServer } from './support/redis-server.ts';

// Tenant alpha, with its own key, reads what it may and reaches for beta's: events, cursors, webhook
// subscriptions and their deliveries, probes. Nothing of beta's may come back or change, every refusal
// is the spec's error naming the field, and what introspection says alpha may do is what it can do.

const ALPHA = { key: 'alpha-key-reads-01' };
const BETA = { key: 'beta-key-reads-001' };
const ADMIN: GovAuth = { admin: true };
const redis = useRedisServer();
const started: CyclesServer[] = [];

afterEach(async () => {
  for (const server of started.splice(0)) await server.close();
});

async function start(ledger: object): Promise<CyclesServer> {
  const server = await startCyclesServer({
    port: 0,
    adminApiKey: ADMIN_KEY,
    apiKeys: { [ALPHA.key]: 'alpha', [BETA.key]: 'beta' },
    ledger: ledger as never,
    ledgers: [
      { scope: 'tenant:alpha', unit: 'TOKENS', allocated: 1000 },
      { scope: 'tenant:beta', unit: 'TOKENS', allocated: 1000 },
    ],
    logLevel: 'silent',
    webhookResolver: async () => [{ address: '203.0.113.10', family: 4 }],
  });
  started.push(server);
  return server;
}

function expectRefused(reply: GovReply, status: number, error: string, field?: string): void {
  expect(reply.problems).toEqual([]);
  expect(reply.status).toBe(status);
  expect(reply.body.error).toBe(error);
  if (field !== undefined) expect(reply.body.details.field).toBe(field);
}

/** Reserves as `tenant` until its event list holds `count` events (observe mode: one event each). */
async function eventsOf(server: CyclesServer, auth: GovAuth, tenant: string, count: number) {
  for (let n = 0; n < count; n++) {
    const reserved = await govFetch(server.url, 'POST', '/v1/reservations', auth, {
      idempotency_key: `${tenant}-${n}`,
      subject: { tenant },
      action: { kind: 'llm.completion', name: 'm' },
      estimate: { unit: 'TOKENS', amount: 1 },
      observe_mode: 'OBSERVE',
    });
    expect(reserved.status).toBe(200);
  }
  for (let waited = 0; waited < 5000; waited += 50) {
    const listed = await govFetch(server.url, 'GET', '/v1/events?limit=100', auth);
    if (listed.body.events.length >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${tenant}'s events were not stored`);
}

describe.each([
  ['memory', () => ({ type: 'memory' })],
  ['redis', () => ({ type: 'redis', url: redis.server.url, keyPrefix: `reads-${Math.random()}:` })],
])('a tenant reaching for another tenant (%s ledger)', (_name, ledgerOf) => {
  it('gets none of its events, whatever the filters and cursors', async () => {
    const server = await start(ledgerOf());
    await eventsOf(server, ALPHA, 'alpha', 3);
    await eventsOf(server, BETA, 'beta', 3);

    // Naming the other tenant is a 403 naming tenant_id, as for balances; naming itself is allowed.
    expectRefused(
      await govFetch(server.url, 'GET', '/v1/events?tenant_id=beta', ALPHA),
      403,
      'FORBIDDEN',
      'tenant_id',
    );
    const own = await govFetch(server.url, 'GET', '/v1/events?tenant_id=alpha', ALPHA);
    expect(own.status).toBe(200);
    expect(own.body.events.map((event: { tenant_id: string }) => event.tenant_id)).toEqual([
      'alpha',
      'alpha',
      'alpha',
    ]);

    // Filters that name beta's scope, its ids or its text find nothing.
    for (const query of ['scope=tenant:beta', 'search=beta', 'category=reservation&scope=tenant:']) {
      const listed = await govFetch(server.url, 'GET', `/v1/events?${query}`, ALPHA);
      expect(listed.status).toBe(200);
      expect(listed.body.events.every((event: { tenant_id: string }) => event.tenant_id === 'alpha')).toBe(
        true,
      );
    }

    // Beta's and the admin's cursors, replayed by alpha under the same filters, page alpha's events only.
    const betaPage = await govFetch(server.url, 'GET', '/v1/events?limit=1', BETA);
    const adminPage = await govFetch(server.url, 'GET', '/v1/admin/events?limit=1', ADMIN);
    for (const cursor of [betaPage.body.next_cursor, adminPage.body.next_cursor]) {
      const paged = await govFetch(server.url, 'GET', `/v1/events?limit=100&cursor=${cursor}`, ALPHA);
      // The cursor was sealed under limit=1 only: limit does not count, so it opens.
      expect(paged.status).toBe(200);
      expect(paged.body.events.every((event: { tenant_id: string }) => event.tenant_id === 'alpha')).toBe(
        true,
      );
      // Under other filters, or forged, it is a 400 naming cursor.
      expectRefused(
        await govFetch(server.url, 'GET', `/v1/events?category=budget&cursor=${cursor}`, ALPHA),
        400,
        'INVALID_REQUEST',
        'cursor',
      );
    }
    for (const forged of ['e1', 'e1.AAAAAAAAAAAA', `${'e'.repeat(5000)}.x`, '.', 'e-1.abc']) {
      expectRefused(
        await govFetch(server.url, 'GET', `/v1/events?cursor=${encodeURIComponent(forged)}`, ALPHA),
        400,
        'INVALID_REQUEST',
        'cursor',
      );
    }
    // The admin event reads are the admin's.
    const betaEvent = betaPage.body.events[0].event_id;
    expectRefused(
      await govFetch(server.url, 'GET', `/v1/admin/events/${betaEvent}`, ALPHA),
      401,
      'UNAUTHORIZED',
    );
    expectRefused(await govFetch(server.url, 'GET', '/v1/admin/events', ALPHA), 401, 'UNAUTHORIZED');
  });

  it('can neither read, change, probe, replay nor list the deliveries of its subscriptions', async () => {
    const server = await start(ledgerOf());
    const created = await govFetch(server.url, 'POST', '/v1/webhooks', BETA, {
      url: 'https://hooks.example.com/beta',
      event_types: ['budget.exhausted'],
    });
    expect(created.status).toBe(201);
    const id = created.body.subscription.subscription_id;
    const before = await govFetch(server.url, 'GET', `/v1/webhooks/${id}`, BETA);

    for (const [method, path, body] of [
      ['GET', `/v1/webhooks/${id}`],
      ['PATCH', `/v1/webhooks/${id}`, { status: 'PAUSED' }],
      ['PATCH', `/v1/webhooks/${id}`, { url: 'https://hooks.example.com/alpha' }],
      ['DELETE', `/v1/webhooks/${id}`],
      ['POST', `/v1/webhooks/${id}/test`, {}],
      ['GET', `/v1/webhooks/${id}/deliveries`],
      ['GET', `/v1/webhooks/${id.toUpperCase()}`],
      ['GET', `/v1/webhooks/${id}%00`],
    ] as const) {
      // Another tenant's subscription is a 404 (GOV), never a 403 that would confirm it exists.
      expectRefused(await govFetch(server.url, method, path, ALPHA, body), 404, 'NOT_FOUND');
    }
    for (const [method, path, body] of [
      ['GET', `/v1/admin/webhooks/${id}`],
      [
        'POST',
        `/v1/admin/webhooks/${id}/replay`,
        { from: '2020-01-01T00:00:00Z', to: '2030-01-01T00:00:00Z' },
      ],
      ['GET', `/v1/admin/webhooks/${id}/deliveries`],
      ['POST', `/v1/admin/webhooks/${id}/test`, {}],
      ['GET', '/v1/admin/webhooks'],
    ] as const) {
      expectRefused(await govFetch(server.url, method, path, ALPHA, body), 401, 'UNAUTHORIZED');
    }
    expect((await govFetch(server.url, 'GET', '/v1/webhooks', ALPHA)).body.subscriptions).toEqual([]);
    // Nothing of beta's changed.
    expect(await govFetch(server.url, 'GET', `/v1/webhooks/${id}`, BETA)).toEqual(before);
    const deliveries = await govFetch(server.url, 'GET', `/v1/webhooks/${id}/deliveries`, BETA);
    expect(deliveries.body.deliveries).toEqual([]);
  });

  it("keeps the webhook events it causes under its own name: the admin's stay, its listing leaves them out", async () => {
    const server = await start(ledgerOf());
    const admins = await govFetch(server.url, 'POST', '/v1/admin/webhooks', ADMIN, {
      url: 'https://hooks.example.com/admin',
      event_types: ['webhook.created'],
    });
    expect(admins.status).toBe(201);
    // A PATCH loop (10,100 of them once pushed the admin's events out of __system__'s 10,000).
    const created = await govFetch(server.url, 'POST', '/v1/webhooks', ALPHA, {
      url: 'https://hooks.example.com/alpha',
      event_types: ['budget.exhausted'],
    });
    const id = created.body.subscription.subscription_id;
    for (const status of ['PAUSED', 'ACTIVE', 'PAUSED']) {
      expect((await govFetch(server.url, 'PATCH', `/v1/webhooks/${id}`, ALPHA, { status })).status).toBe(200);
    }
    expect((await govFetch(server.url, 'DELETE', `/v1/webhooks/${id}`, ALPHA)).status).toBe(204);
    const alphas = '/v1/admin/events?tenant_id=alpha&category=webhook&sort_dir=asc';
    let types: string[] = [];
    for (let waited = 0; waited < 5000 && types.length < 5; waited += 50) {
      const listed = await govFetch(server.url, 'GET', alphas, ADMIN);
      types = listed.body.events.map((event: { event_type: string }) => event.event_type);
      if (types.length < 5) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(types).toEqual([
      'webhook.created',
      'webhook.paused',
      'webhook.resumed',
      'webhook.paused',
      'webhook.deleted',
    ]);
    const system = await govFetch(server.url, 'GET', '/v1/admin/events?tenant_id=__system__', ADMIN);
    expect(system.body.events.map((event: { data: { tenant_id: string } }) => event.data.tenant_id)).toEqual([
      '__system__',
    ]);
    const own = await govFetch(server.url, 'GET', '/v1/events?limit=100', ALPHA);
    expect(own.status).toBe(200);
    expect(own.body.events).toEqual([]);
    const asked = await govFetch(server.url, 'GET', '/v1/events?category=webhook', ALPHA);
    expect(asked.status).toBe(200);
    expect(asked.body.events).toEqual([]);
  });

  it('gets 400 naming the field for an empty deliveries window, as for events', async () => {
    const server = await start(ledgerOf());
    const created = await govFetch(server.url, 'POST', '/v1/webhooks', ALPHA, {
      url: 'https://hooks.example.com/alpha',
      event_types: ['budget.exhausted'],
    });
    const id = created.body.subscription.subscription_id;
    const window = 'from=2030-01-01T00:00:00Z&to=2020-01-01T00:00:00Z';
    expectRefused(
      await govFetch(server.url, 'GET', `/v1/events?${window}`, ALPHA),
      400,
      'INVALID_REQUEST',
      'from',
    );
    expectRefused(
      await govFetch(server.url, 'GET', `/v1/webhooks/${id}/deliveries?${window}`, ALPHA),
      400,
      'INVALID_REQUEST',
      'from',
    );
  });
});

describe('introspection of a tenant key', () => {
  it('grants exactly what the key can do on events and webhooks', async () => {
    const server = await start({ type: 'memory' });
    const introspected = await govFetch(server.url, 'GET', '/v1/auth/introspect', ALPHA);
    expect(introspected.problems).toEqual([]);
    const { capabilities, permissions } = introspected.body;
    const events = await govFetch(server.url, 'GET', '/v1/events', ALPHA);
    const webhooks = await govFetch(server.url, 'GET', '/v1/webhooks', ALPHA);
    const created = await govFetch(server.url, 'POST', '/v1/webhooks', ALPHA, {
      url: 'https://hooks.example.com/alpha',
      event_types: ['budget.exhausted'],
    });
    expect({ view_events: capabilities.view_events, events: events.status }).toEqual({
      view_events: true,
      events: 200,
    });
    expect({ view_webhooks: capabilities.view_webhooks, webhooks: webhooks.status }).toEqual({
      view_webhooks: true,
      webhooks: 200,
    });
    expect({ manage_webhooks: capabilities.manage_webhooks, created: created.status }).toEqual({
      manage_webhooks: true,
      created: 201,
    });
    expect(permissions).toEqual(expect.arrayContaining(['events:read', 'webhooks:read', 'webhooks:write']));
    // And what it cannot do stays false.
    expect(capabilities).toMatchObject({ manage_budgets: false, manage_tenants: false, view_tenants: false });
    expectRefused(await govFetch(server.url, 'GET', '/v1/admin/budgets', ALPHA), 401, 'UNAUTHORIZED');
  });
});

describe('an admin subscription for a tenant', () => {
  it('names one tenant that could exist, else 400 naming tenant_id with nothing stored', async () => {
    const server = await start({ type: 'memory' });
    const body = { url: 'https://hooks.example.com/x', event_types: ['budget.exhausted'] };
    for (const query of [
      'tenant_id=../beta',
      `tenant_id=${'a'.repeat(129)}`,
      'tenant_id=alpha&tenant_id=beta',
      'tenant_id=al%20pha',
    ]) {
      expectRefused(
        await govFetch(server.url, 'POST', `/v1/admin/webhooks?${query}`, ADMIN, body),
        400,
        'INVALID_REQUEST',
        'tenant_id',
      );
    }
    expect((await govFetch(server.url, 'GET', '/v1/admin/webhooks', ADMIN)).body.subscriptions).toEqual([]);
    const owners = [];
    for (const query of ['tenant_id=Alpha', 'tenant_id=__SYSTEM__', '']) {
      const created = await govFetch(server.url, 'POST', `/v1/admin/webhooks?${query}`, ADMIN, body);
      expect(created.status).toBe(201);
      owners.push(created.body.subscription.tenant_id);
    }
    expect(owners).toEqual(['alpha', '__system__', '__system__']);
  });
});
