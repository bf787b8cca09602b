import { type RedisServer, startRedisServer } from '@cycles-guard/redis/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { govSchemaProblems } from './support/gov-contract.ts';
import { govFetch } from './support/gov-fetch.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';

// The tenant and budget lifecycle events the admin API causes, over HTTP on a real server, on the memory
// ledger and on Redis (a real redis-server). The listings are checked against GOV `EventListResponse`
// and each payload against its GOV `EventData*` schema.

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.remove();
});

let server: CyclesServer;
let prefixes = 0;
afterEach(async () => {
  await server?.close();
});

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON bodies, checked against the GOV schemas
type Json = any;

async function admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const reply = await govFetch(server.url, method, path, { admin: true }, body);
  // Only the event listing is GOV-shaped: our admin budget and tenant routes are our own API.
  if (path.startsWith('/v1/admin/events')) expect(reply.problems).toEqual([]);
  return { status: reply.status, body: reply.body };
}

const PAYLOADS: Record<string, string> = {
  tenant: 'EventDataTenantLifecycle',
  budget: 'EventDataBudgetLifecycle',
};

/** The admin events of a tenant, oldest first, each payload checked against its GOV schema. */
async function lifecycle(tenant: string): Promise<Json[]> {
  // Redis stores events off the request's path: poll briefly until the count settles.
  let events: Json[] = [];
  for (let waited = 0; waited < 1000; waited += 50) {
    const listed = await admin('GET', `/v1/admin/events?tenant_id=${tenant}&sort_dir=asc&limit=100`);
    if (listed.body.events.length === events.length && waited > 0) break;
    events = listed.body.events;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  for (const event of events) {
    expect(govSchemaProblems(PAYLOADS[event.category]!, event.data), event.event_type).toEqual([]);
    expect(event.actor).toEqual({ type: 'admin' });
    expect(event.request_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(event.trace_id).toMatch(/^[0-9a-f]{32}$/);
  }
  return events;
}

describe.each(['memory', 'redis'] as const)('admin lifecycle events on the %s ledger', (kind) => {
  async function start(): Promise<void> {
    server = await startCyclesServer({
      port: 0,
      adminApiKey: ADMIN_KEY,
      apiKeys: {},
      ...(kind === 'redis'
        ? { ledger: { type: 'redis' as const, url: redis.url, keyPrefix: `ae${++prefixes}:` } }
        : {}),
      logLevel: 'silent',
    });
  }

  it('reports a tenant created once, then what each PUT changed and each status transition', async () => {
    await start();
    const put = async (body: Json) =>
      expect((await admin('PUT', '/v1/admin/tenants/Acme', body)).status).toBe(204);
    await put({ default_reservation_ttl_ms: 30_000 });
    await put({ default_reservation_ttl_ms: 30_000 }); // unchanged: nothing
    await put({ default_reservation_ttl_ms: 20_000, observe_mode: 'OBSERVE' });
    await put({ default_reservation_ttl_ms: 20_000, observe_mode: 'OBSERVE', status: 'SUSPENDED' });
    await put({ default_reservation_ttl_ms: 20_000, observe_mode: 'OBSERVE', status: 'ACTIVE' });
    await put({ default_reservation_ttl_ms: 20_000, observe_mode: 'OBSERVE', status: 'CLOSED' });
    const events = await lifecycle('acme');
    expect(events.map((event) => [event.event_type, event.data])).toEqual([
      ['tenant.created', { tenant_id: 'acme', new_status: 'ACTIVE', changed_fields: [] }],
      [
        'tenant.settings_changed',
        { tenant_id: 'acme', changed_fields: ['default_reservation_ttl_ms', 'observe_mode'] },
      ],
      ['tenant.suspended', { tenant_id: 'acme', previous_status: 'ACTIVE', new_status: 'SUSPENDED' }],
      ['tenant.reactivated', { tenant_id: 'acme', previous_status: 'SUSPENDED', new_status: 'ACTIVE' }],
      ['tenant.closed', { tenant_id: 'acme', previous_status: 'ACTIVE', new_status: 'CLOSED' }],
    ]);
    expect(events.every((event: Json) => event.category === 'tenant' && event.tenant_id === 'acme')).toBe(
      true,
    );
  });

  it('reports budget creation, funding, updates and real status transitions with both states', async () => {
    await start();
    const budget = '/v1/admin/budgets?scope=tenant:beta&unit=TOKENS';
    expect(
      (await admin('POST', '/v1/admin/budgets', { scope: 'tenant:beta', unit: 'TOKENS', allocated: 100 }))
        .status,
    ).toBe(201);
    await admin('POST', '/v1/admin/budgets/fund?scope=tenant:beta&unit=TOKENS', {
      operation: 'CREDIT',
      amount: 50,
    });
    await admin('POST', '/v1/admin/budgets/fund?scope=tenant:beta&unit=TOKENS', {
      operation: 'DEBIT',
      amount: 20,
    });
    await admin('POST', '/v1/admin/budgets/fund?scope=tenant:beta&unit=TOKENS', {
      operation: 'RESET',
      amount: 200,
    });
    await admin('POST', '/v1/admin/budgets/fund?scope=tenant:beta&unit=TOKENS', {
      operation: 'RESET_SPENT',
      amount: 200,
    });
    await admin('PATCH', budget, { overdraft_limit: 10 });
    await admin('PATCH', budget, { status: 'ACTIVE' }); // already ACTIVE: no transition
    await admin('PATCH', budget, { status: 'FROZEN' });
    await admin('PATCH', budget, { status: 'ACTIVE' });
    await admin('PATCH', budget, { status: 'CLOSED' });
    const events = await lifecycle('beta');
    expect(events.map((event) => [event.event_type, event.data.operation])).toEqual([
      ['budget.created', 'CREATE'],
      ['budget.funded', 'CREDIT'],
      ['budget.debited', 'DEBIT'],
      ['budget.reset', 'RESET'],
      ['budget.reset_spent', 'RESET_SPENT'],
      ['budget.updated', 'UPDATE'],
      ['budget.frozen', 'STATUS_CHANGE'],
      ['budget.unfrozen', 'STATUS_CHANGE'],
      ['budget.closed', 'STATUS_CHANGE'],
    ]);
    const byType = new Map(events.map((event) => [event.event_type, event.data]));
    expect(byType.get('budget.frozen')).toMatchObject({
      scope: 'tenant:beta',
      unit: 'TOKENS',
      previous_state: { status: 'ACTIVE', allocated: 200 },
      new_state: { status: 'FROZEN', allocated: 200 },
    });
    expect(byType.get('budget.unfrozen')).toMatchObject({
      previous_state: { status: 'FROZEN' },
      new_state: { status: 'ACTIVE' },
    });
    expect(byType.get('budget.updated')).toMatchObject({ previous_state: { status: 'ACTIVE' } });
    expect(byType.get('budget.debited')).toMatchObject({
      previous_state: { allocated: 150 },
      new_state: { allocated: 130 },
    });
  });
});
