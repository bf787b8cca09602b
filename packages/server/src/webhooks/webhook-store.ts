import { type DeliveryPage, type DeliveryQuery, type DeliveryRecord, pageOfDeliveries } from './delivery.ts';
import type { DeliveryMarks } from './delivery-marks.ts';
import type { SubscriptionRecord } from './subscription.ts';

/**
 * Where subscriptions and deliveries live: in memory, or on Redis (`redis-webhook-store.ts`), where
 * deliveries still pending survive a restart. Finished deliveries are kept per subscription, bounded.
 */
export interface WebhookStore {
  saveSubscription(record: SubscriptionRecord): Promise<void>;
  /**
   * Stores `next` in one atomic step if the subscription is still stored exactly as `expected`; false if it
   * changed or was deleted meanwhile (the tenant-close cascade: never resurrects a deleted one).
   */
  replaceSubscription(expected: SubscriptionRecord, next: SubscriptionRecord): Promise<boolean>;
  /** Removes a subscription and its deliveries. */
  deleteSubscription(subscriptionId: string): Promise<void>;
  subscriptions(): Promise<SubscriptionRecord[]>;
  /** One subscription as stored now (undefined once deleted). */
  subscription(subscriptionId: string): Promise<SubscriptionRecord | undefined>;
  /** Inserts or replaces a delivery (by `delivery_id`). */
  saveDelivery(record: DeliveryRecord): Promise<void>;
  deliveries(subscriptionId: string, query: DeliveryQuery): Promise<DeliveryPage>;
  /** Every PENDING or RETRYING delivery (to resume after a restart). */
  unfinished(): Promise<DeliveryRecord[]>;
  /**
   * Changes whenever any server writes a subscription, on a store several servers share (Redis);
   * undefined on a store only this process sees.
   */
  version?(): Promise<string>;
  /** Each server's delivery mark, on a store several servers share (`delivery-marks.ts`). */
  readonly marks?: DeliveryMarks;
}

/** Finished deliveries kept per subscription (the newest). */
export const MAX_FINISHED_PER_SUBSCRIPTION = 1000;

/** In process memory: lost on restart (the memory ledger's events are lost with it anyway). */
export class MemoryWebhookStore implements WebhookStore {
  private readonly subs = new Map<string, SubscriptionRecord>();
  private readonly bySubscription = new Map<string, DeliveryRecord[]>();

  async saveSubscription(record: SubscriptionRecord): Promise<void> {
    this.subs.set(record.subscription_id, record);
  }

  async replaceSubscription(expected: SubscriptionRecord, next: SubscriptionRecord): Promise<boolean> {
    const stored = this.subs.get(expected.subscription_id);
    if (stored === undefined || JSON.stringify(stored) !== JSON.stringify(expected)) return false;
    this.subs.set(next.subscription_id, next);
    return true;
  }

  async deleteSubscription(subscriptionId: string): Promise<void> {
    this.subs.delete(subscriptionId);
    this.bySubscription.delete(subscriptionId);
  }

  async subscriptions(): Promise<SubscriptionRecord[]> {
    return [...this.subs.values()];
  }

  async subscription(subscriptionId: string): Promise<SubscriptionRecord | undefined> {
    const stored = this.subs.get(subscriptionId);
    return stored === undefined ? undefined : { ...stored };
  }

  async saveDelivery(record: DeliveryRecord): Promise<void> {
    let records = this.bySubscription.get(record.subscription_id);
    if (records === undefined) {
      if (!this.subs.has(record.subscription_id)) return;
      records = [];
      this.bySubscription.set(record.subscription_id, records);
    }
    // Records are updated in place by the dispatcher; a new one is appended.
    if (!records.includes(record)) records.push(record);
    if (records.length > 2 * MAX_FINISHED_PER_SUBSCRIPTION) {
      const finished = (stored: DeliveryRecord) => stored.status === 'SUCCESS' || stored.status === 'FAILED';
      let excess = records.filter(finished).length - MAX_FINISHED_PER_SUBSCRIPTION;
      const kept = records.filter((stored) => !(finished(stored) && excess-- > 0));
      records.splice(0, records.length, ...kept);
    }
  }

  async deliveries(subscriptionId: string, query: DeliveryQuery): Promise<DeliveryPage> {
    return pageOfDeliveries(this.bySubscription.get(subscriptionId) ?? [], query);
  }

  async unfinished(): Promise<DeliveryRecord[]> {
    return [...this.bySubscription.values()]
      .flat()
      .filter((d) => d.status === 'PENDING' || d.status === 'RETRYING');
  }
}
