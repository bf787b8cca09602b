import { type RedisServer, startRedisServer } from '@cycles-guard/redis/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CyclesServer } from '../src/server.ts';
import { startAgentBudgetServers } from './support/agent-budget-servers.ts';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.ts';

// Two servers on one real redis-server: each delivers the events it raises, so a subscription written
// on one must reach the other without a restart (a polled version key, about a second), and so must
// its pause, its threshold list and its deletion.

const KEY = 'acme-key-shared-01';
let redis: RedisServer;
let a: CyclesServer;
let b: CyclesServer;
let receiver: WebhookReceiver | undefined;
let hook: string;
const bodies: { event_type: string; data: { threshold?: number } }[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  receiver = await startWebhookReceiver(({ raw }) => {
    bodies.push(JSON.parse(raw.toString('utf8')));
    return 204;
  });
  hook = `${receiver.base}/hook`;
  [a, b] = await startAgentBudgetServers(KEY, { type: 'redis', url: redis.url, keyPrefix: 'shared-wh:' });
});

afterAll(async () => {
  await a?.close();
  await b?.close();
  await receiver?.close();
  await redis?.remove();
});

let agents = 0;
/** A reserve on `server` taking a fresh agent's budget to `amount` % (one threshold event or more). */
async function reserveOn(server: CyclesServer, amount: number): Promise<void> {
  const response = await fetch(`${server.url}/v1/reservations`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Cycles-API-Key': KEY },
    body: JSON.stringify({
      idempotency_key: `shared-${++agents}`,
      subject: { tenant: 'acme', agent: `agent-${agents}` },
      action: { kind: 'llm.completion', name: 'm' },
      estimate: { unit: 'TOKENS', amount },
    }),
  });
  expect(response.status).toBe(200);
}

async function call(server: CyclesServer, method: string, path: string, body?: unknown) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      'X-Cycles-API-Key': KEY,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.text()) || '{}' };
}

/** Reserves on B until B delivers what `arrived` waits for (each try raises a new event). */
async function untilDelivered(amount: number, arrived: () => boolean): Promise<number> {
  const started = Date.now();
  await expect
    .poll(
      async () => {
        await reserveOn(b, amount);
        await b.webhooks!.idle();
        return arrived();
      },
      { timeout: 5000, interval: 100 },
    )
    .toBe(true);
  return Date.now() - started;
}

describe('webhook subscriptions shared by two servers on one Redis', () => {
  it('reach the other server without a restart: created, changed, paused, resumed and deleted', async () => {
    const created = await call(a, 'POST', '/v1/webhooks', {
      url: hook,
      event_types: ['budget.threshold_crossed'],
    });
    expect(created.status).toBe(201);
    const id = JSON.parse(created.body).subscription.subscription_id;
    const took = await untilDelivered(85, () => bodies.some((e) => e.data.threshold === 0.8));
    expect(took).toBeLessThan(5000);

    // A threshold list set on A: B emits and delivers the 50 % crossing.
    expect(
      (await call(a, 'PATCH', `/v1/webhooks/${id}`, { thresholds: { budget_utilization: [0.5] } })).status,
    ).toBe(200);
    await untilDelivered(55, () => bodies.some((e) => e.data.threshold === 0.5));

    // Paused on A: B drops its events.
    expect((await call(a, 'PATCH', `/v1/webhooks/${id}`, { status: 'PAUSED' })).status).toBe(200);
    await expect.poll(() => b.webhooks!.get(id)?.status, { timeout: 5000 }).toBe('PAUSED');
    const before = bodies.length;
    await reserveOn(b, 55);
    await b.webhooks!.idle();
    expect(bodies).toHaveLength(before);

    // Resumed on B this time: A follows.
    expect((await call(b, 'PATCH', `/v1/webhooks/${id}`, { status: 'ACTIVE' })).status).toBe(200);
    await expect.poll(() => a.webhooks!.get(id)?.status, { timeout: 5000 }).toBe('ACTIVE');

    // Deleted on A: B forgets it and delivers nothing more.
    expect((await call(a, 'DELETE', `/v1/webhooks/${id}`)).status).toBe(204);
    await expect.poll(() => b.webhooks!.get(id), { timeout: 5000 }).toBeUndefined();
    const after = bodies.length;
    await reserveOn(b, 55);
    await b.webhooks!.idle();
    expect(bodies).toHaveLength(after);
    expect((await call(b, 'GET', `/v1/webhooks/${id}`)).status).toBe(404);
  });
});
