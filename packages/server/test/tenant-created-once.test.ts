import { type RedisServer, startRedisServer } from '@cycles-guard/redis/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';

// `tenant.created` is reported once per tenant, whatever the PUTs: concurrent ones, retries, empty
// settings (which on Redis store nothing, so reading before the write cannot tell), spread over two
// servers on one real redis-server. Random batches of concurrent PUTs, each with a retry.

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.remove();
});

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON bodies
type Json = any;

async function admin(server: CyclesServer, method: string, path: string, body?: unknown) {
  const headers: Record<string, string> = { 'X-Admin-API-Key': ADMIN_KEY };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: (text === '' ? {} : JSON.parse(text)) as Json };
}

/** The tenant's events once their count stops moving (Redis stores them off the request's path). */
async function eventsOf(server: CyclesServer, tenant: string): Promise<Json[]> {
  let events: Json[] = [];
  for (let reads = 0; reads < 40; reads++) {
    const listed = await admin(server, 'GET', `/v1/admin/events?tenant_id=${tenant}&sort_dir=asc&limit=100`);
    if (reads > 0 && listed.body.events.length === events.length) return events;
    events = listed.body.events;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return events;
}

const BODIES = [{}, {}, { max_reservations: 5 }, { default_reservation_ttl_ms: 20_000 }];

describe.each(['memory', 'redis'] as const)('tenant.created on the %s ledger', (kind) => {
  it('is reported exactly once per tenant under concurrent PUTs and retries', async () => {
    const config = {
      port: 0,
      adminApiKey: ADMIN_KEY,
      logLevel: 'silent' as const,
      ...(kind === 'redis'
        ? { ledger: { type: 'redis' as const, url: redis.url, keyPrefix: 'created-once:' } }
        : {}),
    };
    // Two servers share one Redis; the memory ledger is one process.
    const servers = [await startCyclesServer(config)];
    if (kind === 'redis') servers.push(await startCyclesServer(config));
    let tenants = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.nat(servers.length - 1), fc.nat(BODIES.length - 1)), {
            minLength: 2,
            maxLength: 8,
          }),
          async (puts) => {
            const tenant = `t${++tenants}`;
            const put = ([at, body]: [number, number]) =>
              admin(servers[at]!, 'PUT', `/v1/admin/tenants/${tenant}`, BODIES[body]);
            const answers = await Promise.all(puts.map(put));
            answers.push(await put(puts[0]!)); // a retry of the first
            for (const answer of answers) expect(answer.status).toBe(204);
            const events = await eventsOf(servers[0]!, tenant);
            const created = events.filter((event) => event.event_type === 'tenant.created');
            expect(created, JSON.stringify(puts)).toHaveLength(1);
            expect(created[0].data).toMatchObject({ tenant_id: tenant, new_status: 'ACTIVE' });
          },
        ),
        { numRuns: 12 },
      );
    } finally {
      for (const server of servers) await server.close();
    }
  });
});
