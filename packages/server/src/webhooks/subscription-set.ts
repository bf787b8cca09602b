import { LedgerEventLog, type LedgerEvents } from '@cycles-guard/core/ledger-kit';
import type { ProtocolEvent } from '@cycles-guard/core/webhooks';
import { type SubscriptionRecord, selects } from './subscription.ts';
import { extraThresholds, passesThresholds, type RateDefaults, type RateMetric } from './thresholds.ts';
import type { WebhookStore } from './webhook-store.ts';

/**
 * The subscriptions one server delivers to: written through to the store, reloaded when another
 * server wrote one (`refresh`), and told to the ledger, which emits the threshold crossings they ask
 * for. Decides which events each one receives.
 */
export class SubscriptionSet {
  private readonly records = new Map<string, SubscriptionRecord>();
  /** The ledger's configured thresholds of a scope (known when its events are core's event log). */
  private readonly ownThresholdsOf: ((scope: string) => readonly number[]) | undefined;
  /** The ledger's configured rate-spike (threshold, window) of a metric (likewise). */
  private readonly rateDefaultsOf: ((metric: RateMetric) => RateDefaults) | undefined;
  private seenVersion: string | undefined;
  private refreshing = false;
  /** Subscription writes of this server (a reload that overlaps one is dropped, not applied stale). */
  private localWrites = 0;
  /** Per event type and category: the subscriptions selecting either, in order (cleared on any change). */
  private readonly byType = new Map<string, SubscriptionRecord[]>();

  constructor(
    private readonly store: WebhookStore,
    private readonly events: LedgerEvents,
    /** Reads the other shared webhook state (the URL policy) whenever the subscriptions are (re)read. */
    private readonly onShared: () => Promise<void> = async () => {},
  ) {
    const log = events instanceof LedgerEventLog ? events : undefined;
    this.ownThresholdsOf = log === undefined ? undefined : (scope) => log.ownThresholdsOf(scope);
    this.rateDefaultsOf = log === undefined ? undefined : (metric) => log.rateSettingsOf(metric);
  }

  get size(): number {
    return this.records.size;
  }

  get(subscriptionId: string): SubscriptionRecord | undefined {
    return this.records.get(subscriptionId);
  }

  values(): IterableIterator<SubscriptionRecord> {
    return this.records.values();
  }

  /** Reads the store's subscriptions (those this server wrote meanwhile are kept). */
  async load(): Promise<void> {
    this.seenVersion = await this.store.version?.();
    await this.onShared();
    for (const record of await this.store.subscriptions()) {
      if (!this.records.has(record.subscription_id)) this.records.set(record.subscription_id, record);
    }
    this.changed();
  }

  async save(record: SubscriptionRecord): Promise<void> {
    this.localWrites++;
    this.records.set(record.subscription_id, record);
    this.changed();
    await this.store.saveSubscription(record);
  }

  /** The store's compare-and-set (`WebhookStore.replaceSubscription`), then this server's copy. */
  async replace(expected: SubscriptionRecord, next: SubscriptionRecord): Promise<boolean> {
    this.localWrites++;
    if (!(await this.store.replaceSubscription(expected, next))) return false;
    this.records.set(next.subscription_id, next);
    this.changed();
    return true;
  }

  async remove(subscriptionId: string): Promise<void> {
    this.localWrites++;
    this.records.delete(subscriptionId);
    this.changed();
    await this.store.deleteSubscription(subscriptionId);
  }

  /**
   * Reloads the subscriptions when the shared store's version moved (another server wrote one): a
   * polled counter rather than pub/sub, so a change made while this server was disconnected is not
   * lost, and it costs one GET per poll.
   */
  async refresh(): Promise<void> {
    if (this.refreshing || this.store.version === undefined) return;
    this.refreshing = true;
    const writes = this.localWrites;
    try {
      const version = await this.store.version();
      if (version === this.seenVersion) return;
      await this.onShared();
      const records = await this.store.subscriptions();
      if (writes !== this.localWrites) return; // raced a write here: the next poll reloads
      this.seenVersion = version;
      const current = new Map(this.records);
      this.records.clear();
      for (const record of records) {
        const mine = current.get(record.subscription_id);
        // What only this server saw (not stored on every delivery) survives the reload.
        for (const field of ['last_triggered_at', 'last_success_at', 'last_failure_at'] as const) {
          if (mine?.[field] !== undefined && (record[field] ?? '') < mine[field]) record[field] = mine[field];
        }
        this.records.set(record.subscription_id, record);
      }
      this.changed();
    } catch {
      // The store is unreachable: the next poll tries again.
    } finally {
      this.refreshing = false;
    }
  }

  /**
   * The subscriptions whose `event_types` or `event_categories` select an event of this type and
   * category, in order: the only ones that may receive it (`receives` decides), so matching an event
   * costs a lookup, not a pass over every subscription.
   */
  selecting(event: ProtocolEvent): readonly SubscriptionRecord[] {
    const key = `${event.event_type}|${event.category}`;
    let found = this.byType.get(key);
    if (found === undefined) {
      found = [];
      for (const record of this.records.values()) {
        if (
          record.event_types.includes(event.event_type) ||
          (record.event_categories ?? []).includes(event.category)
        )
          found.push(record);
      }
      this.byType.set(key, found);
    }
    return found;
  }

  /** Whether a subscription receives an event: selected, in scope, past its thresholds. */
  receives(subscription: SubscriptionRecord, event: ProtocolEvent): boolean {
    return (
      selects(subscription, event) &&
      passesThresholds(subscription, event, this.ownThresholdsOf, this.rateDefaultsOf)
    );
  }

  /**
   * After any change to the subscriptions: forgets `selecting`'s index, and tells the ledger the
   * utilizations active subscriptions ask for, so it emits their crossings.
   */
  changed(): void {
    this.byType.clear();
    if (this.events instanceof LedgerEventLog)
      this.events.setExtraThresholds(extraThresholds(this.records.values()));
  }
}
