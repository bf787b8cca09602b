import { type RedisLedger, whenConnected } from '@cycles-guard/redis';
import { type DeliveryPage, type DeliveryQuery, type DeliveryRecord, pageOfDeliveries } from './delivery.ts';
import type { SubscriptionRecord } from './subscription.ts';
import { sharedWebhookKey, subscriptionKey } from './webhook-keys.ts';
import { MAX_FINISHED_PER_SUBSCRIPTION, type WebhookStore } from './webhook-store.ts';

type Client = RedisLedger['client'];

/**
 * Subscriptions and deliveries in the ledger's Redis: a delivery still PENDING or RETRYING is in the
 * `pending` set until it ends, so a restarted server (or another one) picks it up again. Each
 * subscription keeps its newest deliveries only.
 */
export class RedisWebhookStore implements WebhookStore {
  private writes = 0;

  constructor(
    private readonly client: Client,
    private readonly prefix: string,
  ) {}

  async saveSubscription(record: SubscriptionRecord): Promise<void> {
    await whenConnected(this.client);
    await this.client.hset(
      sharedWebhookKey(this.prefix, 'subs'),
      record.subscription_id,
      JSON.stringify(record),
    );
    // After the write (and apart: the two keys may sit on different Cluster slots), so a server that
    // sees the new version reads the new subscription.
    await this.client.incr(sharedWebhookKey(this.prefix, 'version'));
  }

  async deleteSubscription(subscriptionId: string): Promise<void> {
    await whenConnected(this.client);
    await this.client
      .pipeline()
      .hdel(sharedWebhookKey(this.prefix, 'subs'), subscriptionId)
      .del(subscriptionKey(this.prefix, subscriptionId, 'order'))
      .del(subscriptionKey(this.prefix, subscriptionId, 'records'))
      .exec();
    await this.client.incr(sharedWebhookKey(this.prefix, 'version'));
  }

  /** One GET: the other servers poll it and reload the subscriptions when it moved. */
  async version(): Promise<string> {
    await whenConnected(this.client);
    return (await this.client.get(sharedWebhookKey(this.prefix, 'version'))) ?? '0';
  }

  async subscriptions(): Promise<SubscriptionRecord[]> {
    await whenConnected(this.client);
    const all = await this.client.hvals(sharedWebhookKey(this.prefix, 'subs'));
    return all.map((json) => JSON.parse(json) as SubscriptionRecord);
  }

  /** Delivery writes of this event-loop turn, sent as one pipeline (one socket write, not one each). */
  private queued: {
    record: DeliveryRecord;
    json: string;
    done: () => void;
    failed: (error: unknown) => void;
  }[] = [];

  saveDelivery(record: DeliveryRecord): Promise<void> {
    // Serialized now: the dispatcher goes on changing the record after this call.
    const json = JSON.stringify(record);
    return new Promise<void>((done, failed) => {
      this.queued.push({ record, json, done, failed });
      if (this.queued.length === 1) setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    const batch = this.queued;
    this.queued = [];
    try {
      await whenConnected(this.client);
      const pipeline = this.client.pipeline();
      const pending = sharedWebhookKey(this.prefix, 'pending');
      for (const { record, json } of batch) {
        const member = `${record.subscription_id}|${record.delivery_id}`;
        pipeline
          .hset(subscriptionKey(this.prefix, record.subscription_id, 'records'), record.delivery_id, json)
          .zadd(
            subscriptionKey(this.prefix, record.subscription_id, 'order'),
            record.sequence,
            record.delivery_id,
          );
        if (record.status === 'SUCCESS' || record.status === 'FAILED') pipeline.srem(pending, member);
        else pipeline.sadd(pending, member);
      }
      const results = await pipeline.exec();
      const error = results?.find(([failure]) => failure !== null)?.[0];
      if (error) throw error;
      for (const { done } of batch) done();
    } catch (error) {
      for (const { failed } of batch) failed(error);
      return;
    }
    for (const { record } of batch) {
      const finished = record.status === 'SUCCESS' || record.status === 'FAILED';
      if (finished && ++this.writes % 64 === 0) await this.trim(record.subscription_id).catch(() => {});
    }
  }

  /** Forgets a subscription's oldest deliveries past the bound (now and then, not on every write). */
  private async trim(subscriptionId: string): Promise<void> {
    const order = subscriptionKey(this.prefix, subscriptionId, 'order');
    const old = await this.client.zrange(order, '0', String(-(MAX_FINISHED_PER_SUBSCRIPTION + 1)));
    if (old.length === 0) return;
    await this.client
      .pipeline()
      .zrem(order, ...old)
      .hdel(subscriptionKey(this.prefix, subscriptionId, 'records'), ...old)
      .exec();
  }

  async deliveries(subscriptionId: string, query: DeliveryQuery): Promise<DeliveryPage> {
    await whenConnected(this.client);
    const all = await this.client.hvals(subscriptionKey(this.prefix, subscriptionId, 'records'));
    const records = all
      .map((json) => JSON.parse(json) as DeliveryRecord)
      .sort((a, b) => a.sequence - b.sequence);
    return pageOfDeliveries(records, query);
  }

  async unfinished(): Promise<DeliveryRecord[]> {
    await whenConnected(this.client);
    const pending = await this.client.smembers(sharedWebhookKey(this.prefix, 'pending'));
    const found: DeliveryRecord[] = [];
    for (const entry of pending) {
      const [subscriptionId, deliveryId] = entry.split('|') as [string, string];
      const json = await this.client.hget(
        subscriptionKey(this.prefix, subscriptionId, 'records'),
        deliveryId,
      );
      if (json === null) await this.client.srem(sharedWebhookKey(this.prefix, 'pending'), entry);
      else found.push(JSON.parse(json) as DeliveryRecord);
    }
    return found;
  }
}
