import { type Clock, type LedgerEvents, retryDelayMs } from '@cycles-guard/core/ledger-kit';
import type { DeliveryRecord } from './delivery.ts';
import { disableAfterFailures, saveCounters } from './failure-counts.ts';
import type { WebhookPoster } from './http-post.ts';
import { finishDelivery, sendDelivery } from './send-delivery.ts';
import type { SubscriptionRecord } from './subscription.ts';
import type { SubscriptionSet } from './subscription-set.ts';
import type { WebhookStore } from './webhook-store.ts';

/** How a delivery attempt ended, as counted on `/metrics`. */
export type DeliveryOutcome = 'delivered' | 'retried' | 'failed' | 'dropped';

/**
 * The attempts of stored deliveries: each one POSTed now or when due, retried with the subscription's
 * backoff until it succeeds or its retries run out (`system.webhook_delivery_failed`), and the
 * subscription's failure streak counted, auto-disabling it past its threshold.
 */
export class DeliveryAttempts {
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;
  /** Told as each attempt ends (`WebhookDispatcher.onOutcome`). */
  outcome: (outcome: DeliveryOutcome) => void = () => {};

  constructor(
    private readonly store: WebhookStore,
    private readonly events: LedgerEvents,
    private readonly subscriptions: SubscriptionSet,
    private readonly poster: WebhookPoster,
    private readonly clock: Clock,
  ) {}

  /** Attempts a delivery now; settles when the attempt (and its bookkeeping) ends. */
  attempt(delivery: DeliveryRecord): Promise<void> {
    return this.track(this.post(delivery));
  }

  /** Attempts a delivery when it is due (`dueMs`). */
  schedule(delivery: DeliveryRecord): void {
    if (this.closed) return;
    const wait = Math.max(0, delivery.dueMs - this.clock.now());
    const timer = setTimeout(() => {
      this.timers.delete(delivery.delivery_id);
      void this.attempt(delivery);
    }, wait);
    timer.unref?.();
    this.timers.set(delivery.delivery_id, timer);
  }

  /** Whether a delivery waits for its due time here. */
  scheduled(deliveryId: string): boolean {
    return this.timers.has(deliveryId);
  }

  /** Whether attempts are still running. */
  get busy(): boolean {
    return this.inFlight.size > 0;
  }

  /** Settles when the attempts running now have. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  /** Starts no more attempts (pending ones stay in the store) and waits for those in flight. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await this.settled();
  }

  /**
   * The GOV test probe: one attempt of `delivery`, whatever the subscription's status; no retry, and
   * neither the failure count nor the status changes.
   */
  async probe(subscription: SubscriptionRecord, delivery: DeliveryRecord): Promise<void> {
    const { error } = await sendDelivery(this.poster, this.clock, subscription, delivery);
    await finishDelivery(this.store, this.clock, delivery, error === undefined ? 'SUCCESS' : 'FAILED', error);
  }

  /** Keeps a delivery step in the in-flight set until it settles (close and idle wait for them). */
  private track(work: Promise<void>): Promise<void> {
    const running = work.catch(() => {}).finally(() => this.inFlight.delete(running));
    this.inFlight.add(running);
    return running;
  }

  private async post(delivery: DeliveryRecord): Promise<void> {
    const subscription = this.subscriptions.get(delivery.subscription_id);
    if (subscription === undefined) return;
    if (subscription.status !== 'ACTIVE') {
      // Paused or disabled: events are dropped, not queued (GOV), and so are retries still pending.
      this.outcome('dropped');
      await finishDelivery(
        this.store,
        this.clock,
        delivery,
        'FAILED',
        `subscription is ${subscription.status}`,
      );
      return;
    }
    const { error } = await sendDelivery(this.poster, this.clock, subscription, delivery);
    if (error === undefined) await this.succeeded(subscription, delivery);
    else await this.failed(subscription, delivery, error);
  }

  private async succeeded(subscription: SubscriptionRecord, delivery: DeliveryRecord): Promise<void> {
    // Stored only when a failure streak ends: a success per delivery would cost a write per event.
    const streak = subscription.consecutive_failures > 0;
    subscription.consecutive_failures = 0;
    subscription.last_success_at = delivery.attempted_at;
    this.outcome('delivered');
    await finishDelivery(this.store, this.clock, delivery, 'SUCCESS');
    if (streak) await saveCounters(this.store, this.subscriptions, subscription).catch(() => {});
  }

  private async failed(
    subscription: SubscriptionRecord,
    delivery: DeliveryRecord,
    error: string,
  ): Promise<void> {
    subscription.consecutive_failures++;
    subscription.last_failure_at = delivery.attempted_at;
    if (subscription.consecutive_failures > subscription.disable_after_failures)
      disableAfterFailures(subscription, this.subscriptions, this.events, this.clock);
    // Best effort while the store is unreachable: the retry below must not be lost with the counters.
    await saveCounters(this.store, this.subscriptions, subscription).catch(() => {});
    if (delivery.attempts > subscription.retry_policy.max_retries || subscription.status !== 'ACTIVE') {
      this.outcome('failed');
      await finishDelivery(this.store, this.clock, delivery, 'FAILED', error);
      // Under the subscription's tenant: one tenant's failing endpoint cannot push the admin's events out.
      this.events.publish([
        {
          type: 'system.webhook_delivery_failed',
          tenant: subscription.tenant_id,
          correlationId: delivery.event_id,
          data: {
            component: 'webhook_dispatcher',
            message: `delivery ${delivery.delivery_id} of ${delivery.event_id} to ${subscription.subscription_id} failed after ${delivery.attempts} attempts: ${error}`,
          },
        },
      ]);
      return;
    }
    await this.retry(subscription, delivery, error);
  }

  private async retry(
    subscription: SubscriptionRecord,
    delivery: DeliveryRecord,
    error: string,
  ): Promise<void> {
    const policy = subscription.retry_policy;
    const delay = retryDelayMs(
      {
        maxRetries: policy.max_retries,
        initialDelayMs: policy.initial_delay_ms,
        backoffMultiplier: policy.backoff_multiplier,
        maxDelayMs: policy.max_delay_ms,
      },
      delivery.attempts,
    );
    this.outcome('retried');
    delivery.status = 'RETRYING';
    delivery.error_message = error;
    delivery.dueMs = this.clock.now() + delay;
    delivery.next_retry_at = new Date(delivery.dueMs).toISOString();
    this.schedule(delivery);
    // A write the store could not make stays queued there and is tried again: the retry does not wait.
    await this.store.saveDelivery(delivery).catch(() => {});
  }
}
