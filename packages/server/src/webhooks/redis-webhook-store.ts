import { eventJson } from '@cycles-guard/core/webhooks';
import { type RedisLedger, whenConnected } from '@cycles-guard/redis';
import { type DeliveryPage, type DeliveryQuery, type DeliveryRecord, pageOfDeliveries } from './delivery.ts';
import type { SubscriptionRecord } from './subscription.ts';
import { sharedWebhookKey, subscriptionKey } from './webhook-keys.ts';
import { MAX_FINISHED_PER_SUBSCRIPTION, type WebhookStore } from './webhook-store.ts';

type Client = RedisLedger['client'];
type Pipeline = ReturnType<Client['pipeline']>;

/** How long a delivery write may wait to be batched with others (and overtaken by its outcome). */
const FLUSH_MS = 10;

interface QueuedWrite {
  record: DeliveryRecord;
  waiters: { done: () => void; failed: (error: unknown) => void }[];
}

/**
 * A delivery as stored: a finished one without its event (the listing never shows it; the event store
 * keeps it), an unfinished one with it (to resume after a restart), spliced in as already encoded.
 */
function serializeDelivery(record: DeliveryRecord, finished: boolean): string {
  const { event, ...rest } = record;
  const json = JSON.stringify(rest);
  return finished ? json : `${json.slice(0, -1)},"event":${eventJson(event)}}`;
}

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
    for (const [deliveryId, owner] of this.storedUnfinished) {
      if (owner === subscriptionId) this.storedUnfinished.delete(deliveryId);
    }
    await whenConnected(this.client);
    // Two writes: the shared list and the subscription's own keys sit on different Cluster slots.
    await this.client.hdel(sharedWebhookKey(this.prefix, 'subs'), subscriptionId);
    await this.client
      .pipeline()
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

  /**
   * Deliveries waiting for the next flush (at most FLUSH_MS away), each written once, as it is then: a
   * PENDING record whose outcome comes first is never written, so a delivery answered within the window
   * costs one write.
   */
  private queued = new Map<string, QueuedWrite>();
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  /** Deliveries whose unfinished record is stored (and in the `pending` set) → their subscription. */
  private readonly storedUnfinished = new Map<string, string>();

  saveDelivery(record: DeliveryRecord): Promise<void> {
    return new Promise<void>((done, failed) => {
      const queued = this.queued.get(record.delivery_id);
      if (queued === undefined) this.queued.set(record.delivery_id, { record, waiters: [{ done, failed }] });
      else queued.waiters.push({ done, failed });
      this.flushTimer ??= setTimeout(() => void this.flush(), FLUSH_MS);
    });
  }

  private async flush(): Promise<void> {
    this.flushTimer = undefined;
    const batch = [...this.queued.values()];
    this.queued = new Map();
    const trims: string[] = [];
    try {
      await whenConnected(this.client);
      // A Cluster pipeline must not span nodes: each subscription's keys share its hash tag, `pending`
      // is apart. Within a flush each subscription gets one HSET and one ZADD, whatever its number of
      // deliveries (a command per delivery cost more CPU than the bytes it carried).
      const bySubscription = new Map<string, { fields: string[]; order: (string | number)[] }>();
      const added: string[] = [];
      const removed: string[] = [];
      for (const { record } of batch) {
        // Serialized as it is now, not as it was when saved: the dispatcher updates its records in place
        // and only between awaits, so this is a state it reached (never older than the one saved), and a
        // PENDING record overtaken by its outcome is never encoded at all.
        const finished = record.status === 'SUCCESS' || record.status === 'FAILED';
        const json = serializeDelivery(record, finished);
        let writes = bySubscription.get(record.subscription_id);
        if (writes === undefined) {
          writes = { fields: [], order: [] };
          bySubscription.set(record.subscription_id, writes);
        }
        writes.fields.push(record.delivery_id, json);
        writes.order.push(record.sequence, record.delivery_id);
        const member = `${record.subscription_id}|${record.delivery_id}`;
        if (finished) {
          if (this.storedUnfinished.delete(record.delivery_id)) removed.push(member);
          if (++this.writes % 64 === 0) trims.push(record.subscription_id);
        } else if (!this.storedUnfinished.has(record.delivery_id)) {
          this.storedUnfinished.set(record.delivery_id, record.subscription_id);
          added.push(member);
        }
      }
      const pipelines: Pipeline[] = [];
      for (const [subscriptionId, { fields, order }] of bySubscription) {
        pipelines.push(
          this.client
            .pipeline()
            .hset(subscriptionKey(this.prefix, subscriptionId, 'records'), ...fields)
            .zadd(subscriptionKey(this.prefix, subscriptionId, 'order'), ...order),
        );
      }
      const pending = sharedWebhookKey(this.prefix, 'pending');
      if (added.length > 0 || removed.length > 0) {
        const shared = this.client.pipeline();
        if (added.length > 0) shared.sadd(pending, ...added);
        if (removed.length > 0) shared.srem(pending, ...removed);
        pipelines.push(shared);
      }
      const results = (await Promise.all(pipelines.map((pipeline) => pipeline.exec()))).flatMap(
        (replies) => replies ?? [],
      );
      const error = results.find(([failure]) => failure !== null)?.[0];
      if (error) throw error;
      for (const { waiters } of batch) for (const { done } of waiters) done();
    } catch (error) {
      for (const { waiters } of batch) for (const { failed } of waiters) failed(error);
      return;
    }
    for (const subscriptionId of trims) await this.trim(subscriptionId).catch(() => {});
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
      else {
        this.storedUnfinished.set(deliveryId, subscriptionId);
        found.push(JSON.parse(json) as DeliveryRecord);
      }
    }
    return found;
  }
}
