import { type Clock, type LedgerEvents, retryDelayMs } from '@cycles-guard/core/ledger-kit';
import type { DeliveryRecord } from './delivery.ts';
import type { DeliveryBacklog } from './delivery-backlog.ts';
import { disableAfterFailures, saveCounters } from './failure-counts.ts';
import type { WebhookPoster } from './http-post.ts';
import { finishDelivery, sendDelivery } from './send-delivery.ts';
import type { SubscriptionRecord } from './subscription.ts';
import type { SubscriptionSet } from './subscription-set.ts';
import type { WebhookStore } from './webhook-store.ts';

/** How a delivery attempt ended, as counted on `/metrics`. */
export type DeliveryOutcome = 'delivered' | 'retried' | 'failed' | 'dropped' | 'overflow';

/**
 * The attempts of stored deliveries: each one POSTed now or when due, retried with the subscription's
 * backoff until it succeeds or its retries run out (`system.webhook_delivery_failed`), and the
 * subscription's failure streak counted, auto-disabling it past its threshold.
 */
export class DeliveryAttempts {
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;
  /** Set once `close` stopped waiting: answers after it are not recorded (the stored records stay unfinished). */
  private abandoned = false;
  /** Told as each attempt ends (`WebhookDispatcher.onOutcome`). */
  outcome: (outcome: DeliveryOutcome) => void = () => {};

  constructor(
    private readonly store: WebhookStore,
    private readonly events: LedgerEvents,
    private readonly subscriptions: SubscriptionSet,
    private readonly poster: WebhookPoster,
    private readonly clock: Clock,
    private readonly backlog: DeliveryBacklog,
    /** How long `close` waits for attempts in flight (the per-attempt timeout). */
    private readonly closeWaitMs: number,
  ) {}

  /**
   * Attempts a delivery now; settles when the attempt (and its bookkeeping) ends. A delivery new to this
   * server past its subscription's backlog bound is not sent but failed at once (`overflow`).
   */
  attempt(delivery: DeliveryRecord): Promise<void> {
    if (!this.backlog.admit(delivery)) return this.track(this.overflow(delivery));
    const id = delivery.delivery_id;
    // Held until it ends here: a retry keeps it (its timer), anything else releases it.
    const ended = () => {
      if (!this.timers.has(id)) this.backlog.release(delivery);
    };
    return this.track(this.post(delivery).finally(ended));
  }

  /** Attempts a delivery when it is due (`dueMs`). */
  schedule(delivery: DeliveryRecord): void {
    if (this.closed) return;
    this.backlog.hold(delivery);
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

  /**
   * Starts no more attempts (pending ones stay in the store) and waits for those in flight, at most one
   * attempt timeout: a slow endpoint's backlog queued behind it would hold the close for minutes. An
   * attempt answered later is not recorded; its stored record stays unfinished (resumed on a restart).
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.closeWaitMs);
    });
    await Promise.race([this.settled(), waited]);
    clearTimeout(timer);
    this.abandoned = true;
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
    if (this.abandoned) return;
    if (error === undefined) {
      // Answered: its slot is free before the outcome's store write (a failure keeps it until it ends).
      this.backlog.release(delivery);
      await this.succeeded(subscription, delivery);
    } else await this.failed(subscription, delivery, error);
  }

  /**
   * Fails a delivery the backlog bound refused, unsent: recorded and counted, but not announced as a
   * `system.webhook_delivery_failed` each (a slow endpoint would flood the event store with them).
   */
  private async overflow(delivery: DeliveryRecord): Promise<void> {
    const held = this.backlog.size(delivery.subscription_id);
    this.outcome('overflow');
    await finishDelivery(
      this.store,
      this.clock,
      delivery,
      'FAILED',
      `${held} deliveries to this endpoint are unfinished: it answers slower than events arrive; they can be replayed once it keeps up`,
    );
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
