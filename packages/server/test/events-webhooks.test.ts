import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { type CapturingReceiver, startCapturingReceiver } from './support/capturing-receiver.ts';
import { govFetch } from './support/gov-fetch.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';
import { LOOPBACK_WEBHOOKS } from './support/loopback-webhooks.ts';
import { specSignatureValid } from './support/spec-signature.ts';

// Events and webhooks over HTTP, on a real server and a real receiving endpoint. Every GOV response is
// validated against the spec's schemas; the receiver checks signatures the way the spec tells receivers
// to (its own HMAC-SHA256 over the raw body, constant-time compare).

const ACME_KEY = 'acme-key-events-01';
const OTHER_KEY = 'other-key-events-01';
const violations: string[] = [];
const exercised = new Set<string>();
let server: CyclesServer;
const receivers: CapturingReceiver[] = [];

beforeEach(async () => {
  server = await startCyclesServer({
    port: 0,
    adminApiKey: ADMIN_KEY,
    apiKeys: { [ACME_KEY]: 'acme', [OTHER_KEY]: 'other' },
    ledgers: [
      { scope: 'tenant:acme', unit: 'TOKENS', allocated: 1000 },
      { scope: 'tenant:other', unit: 'TOKENS', allocated: 1000 },
    ],
    logLevel: 'silent',
    webhookSecurity: LOOPBACK_WEBHOOKS,
  });
});

afterEach(async () => {
  await server.close();
  for (const receiver of receivers.splice(0)) await receiver.close();
  expect(violations.splice(0), 'GOV contract violations').toEqual([]);
});

afterAll(() => {
  for (const id of [
    'listEvents',
    'getEvent',
    'listTenantEvents',
    'replayEvents',
    'listWebhookDeliveries',
    'listTenantWebhookDeliveries',
    'createWebhookSubscription',
    'createTenantWebhook',
    'updateWebhookSubscription',
  ]) {
    expect(exercised.has(id), `never exercised: ${id}`).toBe(true);
  }
});

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON bodies, each checked against the GOV schemas by send()
type Json = any;

interface Sent {
  status: number;
  body: Record<string, Json>;
}

async function send(
  method: string,
  path: string,
  options: { key?: string; admin?: boolean; body?: unknown } = {},
): Promise<Sent> {
  const auth = options.admin
    ? { admin: true as const }
    : options.key === undefined
      ? undefined
      : { key: options.key };
  const reply = await govFetch(server.url, method, path, auth, options.body);
  if (reply.id !== undefined) exercised.add(reply.id);
  violations.push(...reply.problems);
  return { status: reply.status, body: reply.body ?? {} };
}

let keys = 0;
async function reserve(amount: number, key = ACME_KEY, tenant = 'acme'): Promise<Sent> {
  const response = await fetch(`${server.url}/v1/reservations`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Cycles-API-Key': key },
    body: JSON.stringify({
      idempotency_key: `k-${++keys}`,
      subject: { tenant },
      action: { kind: 'llm.completion', name: 'm' },
      estimate: { unit: 'TOKENS', amount },
    }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, Json> };
}

async function receiver(status: () => number | Promise<number> = () => 204): Promise<CapturingReceiver> {
  const endpoint = await startCapturingReceiver(status);
  receivers.push(endpoint);
  return endpoint;
}

describe('events', () => {
  it('lists a tenant its own events only, the admin everyone’s, and reads one by id', async () => {
    expect((await reserve(850)).status).toBe(200);
    expect((await reserve(2000, OTHER_KEY, 'other')).status).toBe(409);
    const mine = await send('GET', '/v1/events', { key: ACME_KEY });
    expect(mine.status).toBe(200);
    expect(mine.body.events.map((event: Json) => event.event_type)).toEqual(['budget.threshold_crossed']);
    expect(mine.body.events[0]).toMatchObject({
      tenant_id: 'acme',
      data: { threshold: 0.8, direction: 'rising' },
    });
    expect(mine.body.events[0].request_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(mine.body.events[0].trace_id).toMatch(/^[0-9a-f]{32}$/);
    const theirs = await send('GET', '/v1/events', { key: OTHER_KEY });
    expect(theirs.body.events.map((event: Json) => event.event_type)).toEqual(['reservation.denied']);
    expect(theirs.body.events[0].data.deny_detail.reason_code).toBe('BUDGET_EXCEEDED');

    const all = await send('GET', '/v1/admin/events?category=reservation', { admin: true });
    expect(all.body.events.map((event: Json) => event.tenant_id)).toEqual(['other']);
    const one = await send('GET', `/v1/admin/events/${mine.body.events[0].event_id}`, { admin: true });
    expect(one.body).toEqual(mine.body.events[0]);
    expect((await send('GET', '/v1/admin/events/evt_nope', { admin: true })).status).toBe(404);
    expect((await send('GET', '/v1/admin/events', { key: ACME_KEY })).status).toBe(401);
    expect((await send('GET', '/v1/events')).status).toBe(401);
  });

  it('pages with cursors and refuses bad parameters naming them', async () => {
    for (let i = 0; i < 5; i++) await reserve(5000);
    const seen: string[] = [];
    let path = '/v1/events?limit=2&event_type=reservation.denied';
    for (;;) {
      const page = await send('GET', path, { key: ACME_KEY });
      seen.push(...page.body.events.map((event: Json) => event.event_id));
      if (!page.body.has_more) break;
      path = `/v1/events?limit=2&event_type=reservation.denied&cursor=${encodeURIComponent(page.body.next_cursor)}`;
    }
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);
    for (const [query, field] of [
      ['limit=0', 'limit'],
      ['event_type=budget.nope', 'event_type'],
      ['from=yesterday', 'from'],
      [`search=${'x'.repeat(129)}`, 'search'],
      ['cursor=forged', 'cursor'],
    ]) {
      const refused = await send('GET', `/v1/events?${query}`, { key: ACME_KEY });
      expect(refused.status, query).toBe(400);
      expect(refused.body.details.field, query).toBe(field);
    }
  });

  it('records the admin API’s budget and tenant events', async () => {
    await fetch(`${server.url}/v1/admin/budgets/fund?scope=tenant:acme&unit=TOKENS`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Admin-API-Key': ADMIN_KEY },
      body: JSON.stringify({ operation: 'CREDIT', amount: 500, reason: 'top-up' }),
    });
    await fetch(`${server.url}/v1/admin/tenants/acme`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', 'X-Admin-API-Key': ADMIN_KEY },
      body: JSON.stringify({ default_reservation_ttl_ms: 30000 }),
    });
    const events = await send('GET', '/v1/admin/events?tenant_id=acme&sort_dir=asc', { admin: true });
    // acme had no settings yet: its first PUT creates the tenant (admin-events.test.ts has the rest).
    expect(events.body.events.map((event: Json) => event.event_type)).toEqual([
      'budget.funded',
      'tenant.created',
    ]);
    expect(events.body.events[0].data).toMatchObject({
      operation: 'CREDIT',
      previous_state: { allocated: 1000 },
      new_state: { allocated: 1500 },
      reason: 'top-up',
    });
    expect(events.body.events[0].actor).toEqual({ type: 'admin' });
  });
});

describe('webhooks', () => {
  it('delivers the 80 % alert to a tenant’s subscription, signed, and lists the delivery', async () => {
    const { url, received } = await receiver();
    const created = await send('POST', '/v1/webhooks', {
      key: ACME_KEY,
      body: { url, event_types: ['budget.threshold_crossed'], headers: { Authorization: 'Bearer x' } },
    });
    expect(created.status).toBe(201);
    const secret = created.body.signing_secret as string;
    expect(created.body.subscription.headers).toEqual({ Authorization: '********' });
    expect(created.body.subscription).not.toHaveProperty('signing_secret');
    await reserve(850);
    await server.webhooks!.idle();
    expect(received).toHaveLength(1);
    const [delivery] = received;
    expect(specSignatureValid(secret, delivery!.raw, delivery!.headers['x-cycles-signature'])).toBe(true);
    const event = JSON.parse(delivery!.raw.toString());
    expect(delivery!.headers['x-cycles-event-id']).toBe(event.event_id);
    expect(delivery!.headers['x-cycles-event-type']).toBe('budget.threshold_crossed');
    expect(delivery!.headers['x-cycles-trace-id']).toBe(event.trace_id);
    expect(delivery!.headers.traceparent).toMatch(new RegExp(`^00-${event.trace_id}-[0-9a-f]{16}-01$`));
    expect(delivery!.headers.authorization).toBe('Bearer x');
    const id = created.body.subscription.subscription_id;
    const listed = await send('GET', `/v1/webhooks/${id}/deliveries`, { key: ACME_KEY });
    expect(listed.body.deliveries).toHaveLength(1);
    expect(listed.body.deliveries[0]).toMatchObject({ status: 'SUCCESS', attempts: 1, response_status: 204 });
    expect(
      (await send('GET', `/v1/admin/webhooks/${id}/deliveries?status=SUCCESS`, { admin: true })).body
        .deliveries,
    ).toHaveLength(1);
    // Another tenant's subscription is a 404, not a 403.
    expect((await send('GET', `/v1/webhooks/${id}/deliveries`, { key: OTHER_KEY })).status).toBe(404);
  });

  it('upholds both subscription invariants on every path, persisting nothing that violates them', async () => {
    const { url } = await receiver();
    const refusals: [string, string, { key?: string; admin?: boolean; body: unknown }, string][] = [
      [
        'POST',
        '/v1/webhooks',
        { key: ACME_KEY, body: { url, event_types: ['api_key.created'] } },
        'event_types',
      ],
      [
        'POST',
        '/v1/webhooks',
        { key: ACME_KEY, body: { url, event_types: ['budget.exhausted'], event_categories: ['webhook'] } },
        'event_categories',
      ],
      [
        'POST',
        '/v1/admin/webhooks?tenant_id=acme',
        { admin: true, body: { url, event_types: ['system.high_latency'] } },
        'event_types',
      ],
      ['POST', '/v1/webhooks', { key: ACME_KEY, body: { url, event_types: [] } }, 'event_types'],
      [
        'POST',
        '/v1/webhooks',
        { key: ACME_KEY, body: { url: 'ftp://x', event_types: ['budget.exhausted'] } },
        'url',
      ],
      [
        'POST',
        '/v1/webhooks',
        {
          key: ACME_KEY,
          body: { url, event_types: ['budget.exhausted'], retry_policy: { max_retries: 11 } },
        },
        'retry_policy.max_retries',
      ],
      [
        'POST',
        '/v1/webhooks',
        {
          key: ACME_KEY,
          body: { url, event_types: ['budget.exhausted'], headers: { 'X-Cycles-Signature': 'x' } },
        },
        'headers',
      ],
    ];
    for (const [method, path, options, field] of refusals) {
      const refused = await send(method, path, options);
      expect(refused.status, JSON.stringify(options.body)).toBe(400);
      expect(refused.body.details.field).toBe(field);
    }
    expect((await send('GET', '/v1/webhooks', { key: ACME_KEY })).body.subscriptions).toEqual([]);
    // Admin-only selectors are fine on a __system__ subscription.
    const system = await send('POST', '/v1/admin/webhooks', {
      admin: true,
      body: { url, event_types: ['webhook.disabled'] },
    });
    expect(system.status).toBe(201);
    expect(system.body.subscription.tenant_id).toBe('__system__');
    // An update is checked on the merged state: clearing event_types with no categories is refused.
    const created = await send('POST', '/v1/webhooks', {
      key: ACME_KEY,
      body: { url, event_types: ['budget.exhausted'] },
    });
    const id = created.body.subscription.subscription_id;
    const cleared = await send('PATCH', `/v1/admin/webhooks/${id}`, {
      admin: true,
      body: { event_types: [] },
    });
    expect(cleared.status).toBe(400);
    const categoryOnly = await send('PATCH', `/v1/admin/webhooks/${id}`, {
      admin: true,
      body: { event_types: [], event_categories: ['budget'] },
    });
    expect(categoryOnly.status).toBe(200);
    expect(categoryOnly.body).toMatchObject({ event_types: [], event_categories: ['budget'] });
  });

  it('requires https unless the server allows http for development', async () => {
    await server.close();
    server = await startCyclesServer({
      port: 0,
      adminApiKey: ADMIN_KEY,
      apiKeys: { [ACME_KEY]: 'acme' },
      logLevel: 'silent',
      // No DNS on test machines: the host resolves to a documentation address.
      webhookResolver: async () => [{ address: '203.0.113.10', family: 4 }],
    });
    const refused = await send('POST', '/v1/webhooks', {
      key: ACME_KEY,
      body: { url: 'http://127.0.0.1:1/x', event_types: ['budget.exhausted'] },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.details.field).toBe('url');
    expect(
      (
        await send('POST', '/v1/webhooks', {
          key: ACME_KEY,
          body: { url: 'https://hooks.example.com/x', event_types: ['budget.exhausted'] },
        })
      ).status,
    ).toBe(201);
  });

  it('retries with backoff, fails the delivery, disables the subscription past its threshold and says so', async () => {
    const { url, received } = await receiver(() => 500);
    const created = await send('POST', '/v1/admin/webhooks?tenant_id=acme', {
      admin: true,
      body: {
        url,
        event_types: ['reservation.denied'],
        retry_policy: { max_retries: 1, initial_delay_ms: 100 },
        disable_after_failures: 2,
      },
    });
    const id = created.body.subscription.subscription_id;
    await reserve(5000);
    await reserve(5000);
    await server.webhooks!.idle();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await server.webhooks!.idle();
    // 2 events x (1 try + 1 retry): the 3rd failed attempt exceeds 2 and disables the subscription; the
    // 4th is made only when both retries were already in flight together.
    const attempts = received.length;
    expect([3, 4]).toContain(attempts);
    const subscription = await send('GET', `/v1/admin/webhooks/${id}`, { admin: true });
    expect(subscription.body).toMatchObject({ status: 'DISABLED', consecutive_failures: attempts });
    const deliveries = await send('GET', `/v1/admin/webhooks/${id}/deliveries`, { admin: true });
    expect(deliveries.body.deliveries.map((d: Json) => d.status)).toEqual(['FAILED', 'FAILED']);
    // A retry that found the subscription disabled says so; one that ran out of retries names the answer.
    const errors = deliveries.body.deliveries.map((d: Json) => d.error_message);
    expect(errors).toContain('HTTP 500');
    for (const error of errors) expect(['HTTP 500', 'subscription is DISABLED']).toContain(error);
    // Kept under the subscription's tenant (a tenant's failing endpoint cannot flush __system__), for
    // the admin: the tenant's own listing leaves them out.
    const system = await send('GET', '/v1/admin/events?tenant_id=acme&sort_dir=asc&limit=100', {
      admin: true,
    });
    const types = system.body.events.map((event: Json) => event.event_type);
    const own = await send('GET', '/v1/events?limit=100', { key: ACME_KEY });
    expect(own.body.events.map((event: Json) => event.category)).not.toContainEqual(
      expect.stringMatching(/^(webhook|system)$/),
    );
    const admins = await send('GET', '/v1/admin/events?tenant_id=__system__', { admin: true });
    expect(admins.body.events).toEqual([]);
    expect(types.filter((type: string) => type === 'webhook.disabled')).toHaveLength(1);
    expect(types).toContain('system.webhook_delivery_failed');
    const disabled = system.body.events.find((event: Json) => event.event_type === 'webhook.disabled');
    expect(disabled.data).toMatchObject({
      subscription_id: id,
      new_status: 'DISABLED',
      disable_reason: 'consecutive_failures_exceeded_threshold',
    });
    // Events while DISABLED are dropped, not queued; PATCH status=ACTIVE re-enables and resets the count.
    await reserve(5000);
    await server.webhooks!.idle();
    expect(received.length).toBe(attempts);
    const resumed = await send('PATCH', `/v1/admin/webhooks/${id}`, {
      admin: true,
      body: { status: 'ACTIVE' },
    });
    expect(resumed.body).toMatchObject({ status: 'ACTIVE', consecutive_failures: 0 });
  });

  it('replays a window as new deliveries in order, and refuses one that is too big or has no start', async () => {
    for (let i = 0; i < 3; i++) await reserve(5000);
    const { url, received } = await receiver();
    const created = await send('POST', '/v1/admin/webhooks?tenant_id=acme', {
      admin: true,
      body: { url, event_types: ['reservation.denied'] },
    });
    const id = created.body.subscription.subscription_id;
    const window = {
      from: new Date(Date.now() - 60_000).toISOString(),
      to: new Date(Date.now() + 1000).toISOString(),
    };
    const tooMany = await send('POST', `/v1/admin/webhooks/${id}/replay`, {
      admin: true,
      body: { ...window, max_events: 2 },
    });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.details.field).toBe('max_events');
    const replay = await send('POST', `/v1/admin/webhooks/${id}/replay`, { admin: true, body: window });
    expect(replay.status).toBe(202);
    expect(replay.body.events_queued).toBe(3);
    await server.webhooks!.idle();
    const ids = received.map((delivery) => JSON.parse(delivery.raw.toString()).event_id);
    expect(new Set(ids).size).toBe(3);
    // In chronological order.
    const times = received.map((delivery) => JSON.parse(delivery.raw.toString()).timestamp);
    expect([...times].sort()).toEqual(times);
    const noFrom = await send('POST', `/v1/admin/webhooks/${id}/replay`, {
      admin: true,
      body: { to: window.to },
    });
    expect(noFrom.status).toBe(400);
    expect(noFrom.body.details.field).toBe('from');
  });

  it('refuses a second replay to a subscription while the first is still sending (409)', async () => {
    for (let i = 0; i < 2; i++) await reserve(5000);
    const slow = await receiver(() => new Promise((resolve) => setTimeout(() => resolve(204), 500)));
    const created = await send('POST', '/v1/admin/webhooks?tenant_id=acme', {
      admin: true,
      body: { url: slow.url, event_types: ['reservation.denied'] },
    });
    const id = created.body.subscription.subscription_id;
    const window = {
      from: new Date(Date.now() - 60_000).toISOString(),
      to: new Date(Date.now() + 1000).toISOString(),
    };
    expect(
      (await send('POST', `/v1/admin/webhooks/${id}/replay`, { admin: true, body: window })).status,
    ).toBe(202);
    const again = await send('POST', `/v1/admin/webhooks/${id}/replay`, { admin: true, body: window });
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('REPLAY_IN_PROGRESS');
    await server.webhooks!.idle();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(
      (await send('POST', `/v1/admin/webhooks/${id}/replay`, { admin: true, body: window })).status,
    ).toBe(202);
  });
});
