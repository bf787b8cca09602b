import { randomBytes } from 'node:crypto';
import { type RedisLedger, whenConnected } from '@cycles-guard/redis';
import { type DeliveryPage, type DeliveryQuery, type DeliveryRecord, pageOfDeliveries } from './delivery.ts';
import {
  type DeliveryMarks,
  formatMark,
  type OpenDeliveries,
  type OrphanedMark,
  parseMark,
  type StoredDeliveries,
} from './delivery-marks.ts';
import { decodeDelivery, encodeDelivery, isFinished } from './stored-delivery.ts';
import type { SubscriptionRecord } from './subscription.ts';
import { sharedWebhookKey, subscriptionKey } from './webhook-keys.ts';
import { MAX_FINISHED_PER_SUBSCRIPTION, type WebhookStore } from './webhook-store.ts';

type Client = RedisLedger['client'];
type Pipeline = ReturnType<Client['pipeline']>;

/** How long a delivery write may wait to be batched with others (and overtaken by its outcome). */
const FLUSH_MS = 10;
/** How long a batch that could not be written waits before it is tried again. */
const RETRY_FLUSH_MS = 250;
/** A mark is rewritten after a write batch at most this often (an older mark only covers more). */
const MARK_EVERY_MS = 100;

interface QueuedWrite {
  record: DeliveryRecord;
  waiters: { done: () => void; failed: (error: unknown) => void }[];
}

/** The time of a delivery's event (ms). */
const eventMs = (record: DeliveryRecord): number => Date.parse(record.event.timestamp);

/**
 * Subscriptions and deliveries in the ledger's Redis: a delivery still PENDING or RETRYING is in the
 * `pending` set until it ends, so a restarted server (or another one) picks it up again. Each
 * subscription keeps its newest deliveries only. Each server's delivery mark (`delivery-marks.ts`)
 * covers the deliveries not stored yet.
 */
export class RedisWebhookStore implements WebhookStore, DeliveryMarks {
  private writes = 0;
  /** This server's field in the `marks` hash. */
  readonly instance = randomBytes(8).toString('hex');
  /** The dispatcher's part of the mark; undefined until `start` (no mark is written before) and after `retire`. */
  private open: (() => OpenDeliveries) | undefined;
  /** The oldest event time of each write batch in flight. */
  private readonly flushing = new Set<{ floorMs: number }>();
  private markedAt = 0;

  get marks(): DeliveryMarks {
    return this;
  }

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

  async replaceSubscription(expected: SubscriptionRecord, next: SubscriptionRecord): Promise<boolean> {
    await whenConnected(this.client);
    // Compare and set in one step (the stored JSON is JSON.stringify's, so equal records compare equal).
    const replaced = await this.client.eval(
      "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) return 1 end return 0",
      1,
      sharedWebhookKey(this.prefix, 'subs'),
      expected.subscription_id,
      JSON.stringify(expected),
      JSON.stringify(next),
    );
    if (replaced !== 1) return false;
    await this.client.incr(sharedWebhookKey(this.prefix, 'version'));
    return true;
  }

  async deleteSubscription(subscriptionId: string): Promise<void> {
    this.deleted.add(subscriptionId);
    const pending: string[] = [];
    for (const [deliveryId, owner] of this.storedUnfinished) {
      if (owner !== subscriptionId) continue;
      this.storedUnfinished.delete(deliveryId);
      pending.push(`${subscriptionId}|${deliveryId}`);
    }
    await whenConnected(this.client);
    // Two writes: the shared list and the subscription's own keys sit on different Cluster slots.
    await this.client.hdel(sharedWebhookKey(this.prefix, 'subs'), subscriptionId);
    if (pending.length > 0) await this.client.srem(sharedWebhookKey(this.prefix, 'pending'), ...pending);
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

  async subscription(subscriptionId: string): Promise<SubscriptionRecord | undefined> {
    await whenConnected(this.client);
    const json = await this.client.hget(sharedWebhookKey(this.prefix, 'subs'), subscriptionId);
    return json === null ? undefined : (JSON.parse(json) as SubscriptionRecord);
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
  /** Subscriptions deleted here: deliveries that end after the delete are not written back under their keys. */
  private readonly deleted = new Set<string>();
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
    const inFlight = { floorMs: Number.POSITIVE_INFINITY };
    for (const { record } of batch) inFlight.floorMs = Math.min(inFlight.floorMs, eventMs(record));
    this.flushing.add(inFlight);
    const added: string[] = [];
    const removed: string[] = [];
    try {
      await whenConnected(this.client);
      // A Cluster pipeline must not span nodes: each subscription's keys share its hash tag, `pending`
      // is apart. Within a flush each subscription gets one HSET and one ZADD, whatever its number of
      // deliveries (a command per delivery cost more CPU than the bytes it carried).
      const bySubscription = new Map<string, { fields: string[]; order: (string | number)[] }>();
      for (const { record } of batch) {
        if (this.deleted.has(record.subscription_id)) continue;
        // Serialized as it is now, not as it was when saved: the dispatcher updates its records in place
        // and only between awaits, so this is a state it reached (never older than the one saved), and a
        // PENDING record overtaken by its outcome is never encoded at all.
        const finished = isFinished(record);
        const json = encodeDelivery(record);
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
      this.flushing.delete(inFlight);
      for (const { waiters } of batch) for (const { done } of waiters) done();
    } catch (error) {
      this.flushing.delete(inFlight);
      this.requeue(batch, added, removed);
      for (const { waiters } of batch) for (const { failed } of waiters) failed(error);
      return;
    }
    if (Date.now() - this.markedAt >= MARK_EVERY_MS) await this.writeMark().catch(() => {});
    for (const subscriptionId of trims) await this.trim(subscriptionId).catch(() => {});
  }

  /**
   * A batch that could not be written goes back in the queue (behind newer states of the same
   * deliveries) and is tried again: the mark stays before it until it is stored.
   */
  private requeue(batch: QueuedWrite[], added: string[], removed: string[]): void {
    for (const member of added) this.storedUnfinished.delete(member.slice(member.indexOf('|') + 1));
    for (const member of removed) {
      const bar = member.indexOf('|');
      this.storedUnfinished.set(member.slice(bar + 1), member.slice(0, bar));
    }
    for (const { record } of batch) {
      if (!this.queued.has(record.delivery_id)) this.queued.set(record.delivery_id, { record, waiters: [] });
    }
    this.flushTimer ??= setTimeout(() => void this.flush(), RETRY_FLUSH_MS);
  }

  async start(open: () => OpenDeliveries): Promise<void> {
    this.open = open;
    await this.writeMark();
  }

  async beat(withinMs: number): Promise<void> {
    if (Date.now() - this.markedAt >= withinMs) await this.writeMark();
  }

  /** Writes this server's mark: nothing it delivers from an earlier event is left unstored. */
  private async writeMark(): Promise<void> {
    if (this.open === undefined) return;
    const { sinceMs, tag } = this.open();
    let fromMs = sinceMs;
    for (const { floorMs } of this.flushing) fromMs = Math.min(fromMs, floorMs);
    for (const { record } of this.queued.values()) fromMs = Math.min(fromMs, eventMs(record));
    this.markedAt = Date.now();
    await whenConnected(this.client);
    await this.client.hset(
      sharedWebhookKey(this.prefix, 'marks'),
      this.instance,
      formatMark(fromMs, this.markedAt, tag),
    );
  }

  async retire(): Promise<void> {
    if (this.open === undefined || this.queued.size > 0 || this.flushing.size > 0) return;
    this.open = undefined;
    await this.client.hdel(sharedWebhookKey(this.prefix, 'marks'), this.instance);
  }

  async orphans(leaseMs: number): Promise<OrphanedMark[]> {
    await whenConnected(this.client);
    const all = await this.client.hgetall(sharedWebhookKey(this.prefix, 'marks'));
    const now = Date.now();
    const found: OrphanedMark[] = [];
    for (const [instance, raw] of Object.entries(all)) {
      const mark = parseMark(instance, raw);
      if (instance !== this.instance && mark !== undefined && now - mark.beatMs > leaseMs) found.push(mark);
    }
    return found;
  }

  async release(mark: OrphanedMark): Promise<void> {
    await whenConnected(this.client);
    // Compare and delete in one step: a mark that moved is not this one.
    await this.client.eval(
      "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end return 0",
      1,
      sharedWebhookKey(this.prefix, 'marks'),
      mark.instance,
      mark.raw,
    );
  }

  async storedDeliveries(subscriptionId: string): Promise<StoredDeliveries> {
    await whenConnected(this.client);
    const all = await this.client.hvals(subscriptionKey(this.prefix, subscriptionId, 'records'));
    const events = new Set<string>();
    const unfinished: DeliveryRecord[] = [];
    for (const stored of all) {
      const record = decodeDelivery(subscriptionId, stored);
      events.add(record.event_id);
      if (!isFinished(record)) unfinished.push(record);
    }
    const stranded = new Map<string, DeliveryRecord>();
    if (unfinished.length > 0) {
      const pending = await this.client.smismember(
        sharedWebhookKey(this.prefix, 'pending'),
        ...unfinished.map((record) => `${subscriptionId}|${record.delivery_id}`),
      );
      unfinished.forEach((record, index) => {
        if (pending[index] === 0) stranded.set(record.event_id, record);
      });
    }
    return { events, stranded };
  }

  /**
   * Forgets a subscription's oldest finished deliveries past the bound (now and then, not on every
   * write). An unfinished one is kept however old: its record is what a restart resumes it from.
   */
  private async trim(subscriptionId: string): Promise<void> {
    const order = subscriptionKey(this.prefix, subscriptionId, 'order');
    const records = subscriptionKey(this.prefix, subscriptionId, 'records');
    const old = await this.client.zrange(order, '0', String(-(MAX_FINISHED_PER_SUBSCRIPTION + 1)));
    if (old.length === 0) return;
    const stored = await this.client.hmget(records, ...old);
    const done = old.filter((_, index) => {
      const json = stored[index];
      return json == null || isFinished(decodeDelivery(subscriptionId, json));
    });
    if (done.length === 0) return;
    await this.client
      .pipeline()
      .zrem(order, ...done)
      .hdel(records, ...done)
      .exec();
  }

  async deliveries(subscriptionId: string, query: DeliveryQuery): Promise<DeliveryPage> {
    await whenConnected(this.client);
    const all = await this.client.hvals(subscriptionKey(this.prefix, subscriptionId, 'records'));
    const records = all
      .map((stored) => decodeDelivery(subscriptionId, stored))
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
      const record = json === null ? undefined : decodeDelivery(subscriptionId, json);
      // Gone (its subscription deleted), or finished with its pending-set removal cut off by a kill.
      if (record === undefined || isFinished(record))
        await this.client.srem(sharedWebhookKey(this.prefix, 'pending'), entry);
      else {
        this.storedUnfinished.set(deliveryId, subscriptionId);
        found.push(record);
      }
    }
    return found;
  }
}
