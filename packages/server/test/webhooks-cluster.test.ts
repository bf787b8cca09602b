import { type RedisClusterHandle, startRedisCluster } from '@cycles-guard/redis/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CyclesServer } from '../src/server.ts';
import { startAgentBudgetServers } from './support/agent-budget-servers.ts';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.ts';

// Webhooks on Redis Cluster (3 masters + 3 replicas on loopback), two servers: subscriptions whose
// delivery keys hash to different masters, each receiving the events raised on the other server; their
// deliveries are listed from either server, and deleting one stops it on both.

const KEY = 'acme-key-cluster-wh';
const SUBSCRIPTIONS = 6;
let cluster: RedisClusterHandle;
let a: CyclesServer;
let b: CyclesServer;
let receiver: WebhookReceiver | undefined;
let base: string;
const received = new Map<string, number>();

beforeAll(async () => {
  cluster = await startRedisCluster();
  receiver = await startWebhookReceiver(({ path }) => {
    received.set(path, (received.get(path) ?? 0) + 1);
    return 204;
  });
  base = receiver.base;
  [a, b] = await startAgentBudgetServers(KEY, {
    type: 'redis',
    cluster: cluster.nodes,
    keyPrefix: 'cluster-wh:',
  });
}, 60_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
  await receiver?.close();
  await cluster?.remove();
});

async function call(server: CyclesServer, method: string, path: string, body?: unknown) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      'X-Cycles-API-Key': KEY,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: JSON.parse((await response.text()) || '{}') };
}

let agents = 0;
/** A reserve on `server` taking a fresh agent's budget to 85 %: one threshold crossing. */
async function crossOn(server: CyclesServer): Promise<void> {
  const response = await call(server, 'POST', '/v1/reservations', {
    idempotency_key: `cluster-wh-${++agents}`,
    subject: { tenant: 'acme', agent: `agent-${agents}` },
    action: { kind: 'llm.completion', name: 'm' },
    estimate: { unit: 'TOKENS', amount: 85 },
  });
  expect(response.status).toBe(200);
}

describe('webhooks on Redis Cluster, two servers', () => {
  it('deliver to subscriptions spread over the masters, list their deliveries from either server, and stop on delete', async () => {
    const ids: string[] = [];
    for (let index = 0; index < SUBSCRIPTIONS; index++) {
      const created = await call(a, 'POST', '/v1/webhooks', {
        url: `${base}/hook-${index}`,
        event_types: ['budget.threshold_crossed'],
      });
      expect(created.status).toBe(201);
      ids.push(created.body.subscription.subscription_id);
    }
    const masters = new Set(
      await Promise.all(ids.map((id) => cluster.masterOf(`cluster-wh:webhooks:{${id}}:records`))),
    );
    expect(masters.size).toBeGreaterThanOrEqual(2);

    // B learns the subscriptions (polled version key) and delivers what it raises to every one.
    await expect
      .poll(
        async () => {
          await crossOn(b);
          await b.webhooks!.idle();
          return ids.every((_, index) => (received.get(`/hook-${index}`) ?? 0) > 0);
        },
        { timeout: 10_000, interval: 200 },
      )
      .toBe(true);
    for (const id of ids) {
      await expect
        .poll(
          async () => {
            const listed = await call(a, 'GET', `/v1/webhooks/${id}/deliveries`);
            return (
              listed.status === 200 &&
              listed.body.deliveries.some((d: { status: string }) => d.status === 'SUCCESS')
            );
          },
          { timeout: 5000 },
        )
        .toBe(true);
    }

    // Deleted on A: B forgets it and delivers nothing more to it.
    expect((await call(a, 'DELETE', `/v1/webhooks/${ids[0]}`)).status).toBe(204);
    await expect.poll(() => b.webhooks!.get(ids[0]!), { timeout: 5000 }).toBeUndefined();
    const before = received.get('/hook-0');
    await crossOn(b);
    await b.webhooks!.idle();
    expect(received.get('/hook-0')).toBe(before);
    expect((await call(b, 'GET', `/v1/webhooks/${ids[0]}/deliveries`)).status).toBe(404);
  });
});
