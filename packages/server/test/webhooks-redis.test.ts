import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startCyclesServer } from '../src/server.ts';
import { startCapturingReceiver } from './support/capturing-receiver.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';
import { LOOPBACK_WEBHOOKS } from './support/loopback-webhooks.ts';
import { useRedisServer } from './support/redis-server.ts';

// On the Redis ledger a delivery still being retried survives a server restart: the next server on the
// same Redis resumes it, so an alert whose endpoint was down is still delivered once it is back.

const redis = useRedisServer();

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Subscribes `hook` to acme's threshold crossings through `server` (tenant key `apiKey`), then reserves
 * 85 of acme's 100 tokens: one `budget.threshold_crossed` to deliver. Resolves with the create answer.
 */
async function subscribeAndCross(
  server: string,
  apiKey: string,
  hook: string,
  initialDelayMs: number,
): Promise<Response> {
  const created = await fetch(`${server}/v1/webhooks`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Cycles-API-Key': apiKey },
    body: JSON.stringify({
      url: hook,
      event_types: ['budget.threshold_crossed'],
      retry_policy: { initial_delay_ms: initialDelayMs, max_retries: 5 },
    }),
  });
  expect(created.status).toBe(201);
  const reserved = await fetch(`${server}/v1/reservations`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Cycles-API-Key': apiKey },
    body: JSON.stringify({
      idempotency_key: 'r1',
      subject: { tenant: 'acme' },
      action: { kind: 'llm.completion', name: 'm' },
      estimate: { unit: 'TOKENS', amount: 85 },
    }),
  });
  expect(reserved.status).toBe(200);
  return created;
}

describe('webhooks on the Redis ledger', () => {
  it('resume a pending delivery after a restart, and list events from Redis', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/hook`;
    const config = {
      port: 0,
      adminApiKey: ADMIN_KEY,
      apiKeys: { 'acme-key-redis-01': 'acme' },
      ledger: { type: 'redis' as const, url: redis.server.url, keyPrefix: 'wh1:' },
      ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS' as const, allocated: 100 }],
      logLevel: 'silent' as const,
      webhookSecurity: LOOPBACK_WEBHOOKS,
    };
    const first = await startCyclesServer(config);
    const created = await subscribeAndCross(first.url, 'acme-key-redis-01', url, 1500);
    // Nothing listens yet: the first attempt fails and the delivery waits for its retry.
    for (let waited = 0; waited < 3000; waited += 50) {
      const pending = await first.ledger.events!.list({});
      if (pending.events.length > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await first.webhooks!.idle();
    await first.close();

    const bodies: string[] = [];
    const endpoint: Server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        bodies.push(body);
        response.end();
      });
    });
    await new Promise<void>((resolve) => endpoint.listen(port, '127.0.0.1', resolve));
    const second = await startCyclesServer(config);
    try {
      for (let waited = 0; bodies.length === 0 && waited < 5000; waited += 50) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(bodies).toHaveLength(1);
      expect(JSON.parse(bodies[0]!)).toMatchObject({
        event_type: 'budget.threshold_crossed',
        tenant_id: 'acme',
      });
      const listed = await fetch(`${second.url}/v1/events?event_type=budget.threshold_crossed`, {
        headers: { 'X-Cycles-API-Key': 'acme-key-redis-01' },
      });
      expect(((await listed.json()) as { events: unknown[] }).events).toHaveLength(1);
      const id = ((await created.json()) as { subscription: { subscription_id: string } }).subscription
        .subscription_id;
      await second.webhooks!.idle();
      const deliveries = await fetch(`${second.url}/v1/admin/webhooks/${id}/deliveries`, {
        headers: { 'X-Admin-API-Key': ADMIN_KEY },
      });
      const listedDeliveries = (await deliveries.json()) as {
        deliveries: { status: string; attempts: number }[];
      };
      expect(listedDeliveries.deliveries).toEqual([
        expect.objectContaining({ status: 'SUCCESS', attempts: 2 }),
      ]);
    } finally {
      await second.close();
      await new Promise((resolve) => endpoint.close(resolve));
    }
  });

  it('retry a delivery that failed while Redis was down, on the same server, once Redis is back', async () => {
    // The failed attempt's bookkeeping (failure count, RETRYING record) cannot be written during the
    // outage: the retry must still be scheduled, not wait for a restart to be resumed.
    let attempts = 0;
    const receiver = await startCapturingReceiver(async () => {
      if (++attempts > 1) return 204;
      await redis.server.stop();
      return 503;
    });
    const server = await startCyclesServer({
      port: 0,
      adminApiKey: ADMIN_KEY,
      apiKeys: { 'acme-key-redis-02': 'acme' },
      ledger: { type: 'redis', url: redis.server.url, keyPrefix: 'wh2:' },
      ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 }],
      logLevel: 'silent',
      webhookSecurity: LOOPBACK_WEBHOOKS,
    });
    try {
      await subscribeAndCross(server.url, 'acme-key-redis-02', receiver.url, 100);
      await expect.poll(() => attempts, { timeout: 5000 }).toBe(1);
      // Redis is still down: the retry, due 100 ms after the failure, comes anyway.
      await expect.poll(() => attempts, { timeout: 10_000 }).toBe(2);
      expect(JSON.parse(receiver.received[1]!.raw.toString())).toMatchObject({
        event_type: 'budget.threshold_crossed',
      });
    } finally {
      await redis.server.restart();
      await server.close();
      await receiver.close();
    }
  }, 30_000);
});
