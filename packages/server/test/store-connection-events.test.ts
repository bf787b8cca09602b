import { type RedisServer, startRedisServer } from '@cycles-guard/redis/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCyclesServer } from '../src/server.ts';
import { govSchemaProblems } from './support/gov-contract.ts';
import { govFetch } from './support/gov-fetch.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';
import { LOOPBACK_WEBHOOKS } from './support/loopback-webhooks.ts';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.ts';

// `system.store_connection_lost` / `system.store_connection_restored` on the Redis ledger: a real
// redis-server stopped under the server (the client retries every few hundred ms) and restarted. One
// pair per outage, not one per retry; the lost one reaches a `__system__` webhook during the outage and
// is listed for the admin afterwards, before the restored one; a tenant sees neither.

const KEY = 'acme-key-store-conn-1';
let redis: RedisServer;
let receiver: WebhookReceiver | undefined;
let hookBase: string;
// biome-ignore lint/suspicious/noExplicitAny: parsed JSON bodies, GOV-checked
const received: any[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  receiver = await startWebhookReceiver(({ raw }) => {
    received.push(JSON.parse(raw.toString('utf8')));
    return 204;
  });
  hookBase = receiver.base;
});

afterAll(async () => {
  await receiver?.close();
  await redis?.remove();
});

async function until(what: string, condition: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('store connection events on the Redis ledger', () => {
  it('emit one lost and one restored per outage, schema-valid, admin-only', async () => {
    const server = await startCyclesServer({
      port: 0,
      adminApiKey: ADMIN_KEY,
      apiKeys: { [KEY]: 'acme' },
      ledger: { type: 'redis', url: redis.url, keyPrefix: 'store-conn:' },
      ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1000 }],
      logLevel: 'silent',
      webhookSecurity: LOOPBACK_WEBHOOKS,
    });
    const problems: string[] = [];
    const admin = async (method: string, path: string, body?: unknown) => {
      const reply = await govFetch(server.url, method, path, { admin: true }, body);
      problems.push(...reply.problems);
      // biome-ignore lint/suspicious/noExplicitAny: GOV-checked above
      return reply as { status: number; body: any };
    };
    const systemEvents = async () =>
      (await admin('GET', '/v1/admin/events?category=system&sort_dir=asc')).body.events.map(
        (event: { event_type: string }) => event.event_type,
      );
    try {
      const created = await admin('POST', '/v1/admin/webhooks', {
        url: `${hookBase}/system`,
        event_types: ['system.store_connection_lost', 'system.store_connection_restored'],
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(await systemEvents()).toEqual([]);

      for (let outage = 1; outage <= 2; outage++) {
        await redis.stop();
        await until('the lost event at the webhook', () =>
          received.some(
            (event) =>
              event.event_type === 'system.store_connection_lost' && received.length >= 2 * outage - 1,
          ),
        );
        // Several reconnect attempts fail meanwhile (every 50-500 ms): still one lost event.
        await new Promise((resolve) => setTimeout(resolve, 1500));
        await redis.restart();
        await until('the restored event', async () => (await systemEvents()).length === 2 * outage);
        expect(await systemEvents()).toEqual(
          Array.from({ length: outage }, () => [
            'system.store_connection_lost',
            'system.store_connection_restored',
          ]).flat(),
        );
      }
      const listed = (await admin('GET', '/v1/admin/events?category=system&sort_dir=asc')).body.events;
      for (const event of listed) {
        expect(govSchemaProblems('Event', event)).toEqual([]);
        expect(govSchemaProblems('EventDataSystem', event.data)).toEqual([]);
        expect(event.tenant_id).toBe('__system__');
      }
      expect(listed[0].data).toMatchObject({
        component: 'store',
        severity: 'critical',
        details: { store: 'redis' },
      });
      expect(listed[1].data).toMatchObject({ component: 'store', severity: 'info' });
      expect(listed[1].data.details.outage_ms).toBeGreaterThanOrEqual(1500);
      await until('both restored events delivered', () => received.length === 4);
      expect(received.map((event) => event.event_type)).toEqual(
        listed.map((event: { event_type: string }) => event.event_type),
      );
      // A tenant never sees them.
      const tenant = await govFetch(server.url, 'GET', '/v1/events?category=system', { key: KEY });
      expect(tenant.problems).toEqual([]);
      expect((tenant.body as { events: unknown[] }).events).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await server.close();
    }
    // A deliberate close is not an outage: nothing more was delivered.
    expect(received).toHaveLength(4);
  });

  it('come as one pair per server, each naming its server, when two servers share the store', async () => {
    const start = () =>
      startCyclesServer({
        port: 0,
        adminApiKey: ADMIN_KEY,
        ledger: { type: 'redis', url: redis.url, keyPrefix: 'store-conn-two:' },
        logLevel: 'silent',
        webhookSecurity: LOOPBACK_WEBHOOKS,
      });
    const servers = [await start(), await start()];
    const from = received.length;
    try {
      const created = await govFetch(
        servers[0]!.url,
        'POST',
        '/v1/admin/webhooks',
        { admin: true },
        {
          url: `${hookBase}/system-two`,
          event_types: ['system.store_connection_lost', 'system.store_connection_restored'],
        },
      );
      expect(created.status).toBe(201);
      const id = created.body.subscription.subscription_id;
      await until(
        'the other server to know the subscription',
        () => servers[1]!.webhooks!.get(id) !== undefined,
      );

      await redis.stop();
      await until('both lost events at the webhook', () => received.length - from === 2);
      await redis.restart();
      // biome-ignore lint/suspicious/noExplicitAny: GOV-checked below
      let listed: any[] = [];
      await until('both pairs stored', async () => {
        const page = await govFetch(servers[0]!.url, 'GET', '/v1/admin/events?category=system&sort_dir=asc', {
          admin: true,
        });
        expect(page.problems).toEqual([]);
        listed = page.body.events;
        return listed.length === 4;
      });
      const pairs = new Map<string, string[]>();
      for (const event of listed) {
        expect(govSchemaProblems('EventDataSystem', event.data)).toEqual([]);
        const instance = event.data.details.instance;
        expect(instance).toMatch(/^.+\/\d+\/[0-9a-f]{6}$/);
        pairs.set(instance, [...(pairs.get(instance) ?? []), event.event_type]);
      }
      expect([...pairs.values()]).toEqual([
        ['system.store_connection_lost', 'system.store_connection_restored'],
        ['system.store_connection_lost', 'system.store_connection_restored'],
      ]);
      await until('both restored events delivered', () => received.length - from === 4);
      const delivered = received
        .slice(from)
        .map((event) => `${event.data.details.instance} ${event.event_type}`);
      expect(delivered.sort()).toEqual(
        listed.map((event) => `${event.data.details.instance} ${event.event_type}`).sort(),
      );
    } finally {
      for (const server of servers) await server.close();
    }
  });
});
