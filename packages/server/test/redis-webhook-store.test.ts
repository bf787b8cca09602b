import type { ProtocolEvent } from '@cycles-guard/core/webhooks';
import type { RedisLedger } from '@cycles-guard/redis';
import { type RedisServer, startRedisServer } from '@cycles-guard/redis/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import type { DeliveryRecord } from '../src/webhooks/delivery.ts';
import { RedisWebhookStore } from '../src/webhooks/redis-webhook-store.ts';
import type { SubscriptionRecord } from '../src/webhooks/subscription.ts';

// The Redis store batches delivery writes: a delivery whose outcome comes before its PENDING record
// was flushed is written once, finished, with no `pending` entry; one flushed while unfinished keeps
// its event (to resume after a restart) and leaves `pending` when it ends. Against a real redis-server.

let redis: RedisServer;
let server: CyclesServer;
let client: RedisLedger['client'];

beforeAll(async () => {
  redis = await startRedisServer();
  server = await startCyclesServer({
    port: 0,
    logLevel: 'silent',
    ledger: { type: 'redis', url: redis.url, keyPrefix: 'store-unit:' },
  });
  client = (server.ledger as RedisLedger).client;
});

afterAll(async () => {
  await server?.close();
  await redis?.remove();
});

const event: ProtocolEvent = {
  event_id: 'evt_1',
  event_type: 'budget.exhausted',
  category: 'budget',
  timestamp: '2026-01-01T00:00:00.000Z',
  tenant_id: 'acme',
  source: 'cycles-guard',
  data: { scope: 'tenant:acme', text: 'quote " and \\ backslash' },
};

function delivery(id: string, sequence: number): DeliveryRecord {
  return {
    delivery_id: id,
    subscription_id: 'whsub_1',
    event_id: event.event_id,
    event_type: event.event_type,
    status: 'PENDING',
    attempted_at: event.timestamp,
    attempts: 0,
    sequence,
    createdMs: 1,
    dueMs: 1,
    event,
  };
}

describe('RedisWebhookStore', () => {
  it('writes a delivery answered within the flush window once, finished, without its event', async () => {
    const store = new RedisWebhookStore(client, 'a:');
    await store.saveSubscription({ subscription_id: 'whsub_1' } as SubscriptionRecord);
    const record = delivery('whdel_fast', 1);
    const pending = store.saveDelivery(record);
    record.status = 'SUCCESS';
    record.attempts = 1;
    await Promise.all([pending, store.saveDelivery(record)]);
    expect(await client.smembers('a:webhooks:pending')).toEqual([]);
    const stored = JSON.parse((await client.hget('a:webhooks:{whsub_1}:records', 'whdel_fast'))!);
    expect(stored).toMatchObject({ status: 'SUCCESS', attempts: 1 });
    expect(stored).not.toHaveProperty('event');
    expect((await store.deliveries('whsub_1', { limit: 10 })).deliveries).toHaveLength(1);
    expect(await store.unfinished()).toEqual([]);
  });

  it('keeps an unfinished delivery with its event in pending, and takes it out when it ends', async () => {
    const store = new RedisWebhookStore(client, 'b:');
    await store.saveSubscription({ subscription_id: 'whsub_1' } as SubscriptionRecord);
    const record = delivery('whdel_slow', 1);
    await store.saveDelivery(record);
    expect(await client.smembers('b:webhooks:pending')).toEqual(['whsub_1|whdel_slow']);
    // A restarted server (a new store) resumes it, the event intact.
    const restarted = new RedisWebhookStore(client, 'b:');
    const [resumed] = await restarted.unfinished();
    expect(resumed).toEqual(record);
    resumed!.status = 'FAILED';
    await restarted.saveDelivery(resumed!);
    expect(await client.smembers('b:webhooks:pending')).toEqual([]);
    expect(await client.get('b:webhooks:version')).toBe('1');
  });
});
