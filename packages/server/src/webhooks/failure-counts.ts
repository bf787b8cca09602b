import type { Clock, LedgerEvents } from '@cycles-guard/core/ledger-kit';
import type { SubscriptionRecord } from './subscription.ts';
import type { SubscriptionSet } from './subscription-set.ts';
import { webhookLifecycle } from './webhook-lifecycle.ts';
import type { WebhookStore } from './webhook-store.ts';

/**
 * Writes a delivery's counters (and an auto-disable) onto the subscription as stored now, by
 * compare-and-set: this server's copy may be older than a write made meanwhile (a tenant close that
 * disabled it, an update through another server), which writing the copy back would undo. The copy
 * then takes the stored state. Gives up after a few lost races (the next failure writes again).
 */
export async function saveCounters(
  store: WebhookStore,
  subscriptions: SubscriptionSet,
  subscription: SubscriptionRecord,
): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const stored = await store.subscription(subscription.subscription_id);
    if (stored === undefined) return;
    const next: SubscriptionRecord = {
      ...stored,
      consecutive_failures: subscription.consecutive_failures,
    };
    if (subscription.last_success_at !== undefined) next.last_success_at = subscription.last_success_at;
    if (subscription.last_failure_at !== undefined) next.last_failure_at = subscription.last_failure_at;
    if (subscription.status === 'DISABLED' && stored.status !== 'DISABLED') {
      next.status = 'DISABLED';
      next.updated_at = subscription.updated_at;
    }
    if (!(await store.replaceSubscription(stored, next))) continue;
    // In place: deliveries in flight hold this object and count on it.
    const statusChanged = subscription.status !== next.status;
    Object.assign(subscription, next);
    if (statusChanged) subscriptions.changed();
    return;
  }
}

/**
 * Disables this server's copy of a subscription whose failures passed its threshold and publishes
 * `webhook.disabled`; `saveCounters` stores it.
 */
export function disableAfterFailures(
  subscription: SubscriptionRecord,
  subscriptions: SubscriptionSet,
  events: LedgerEvents,
  clock: Clock,
): void {
  if (subscription.status === 'DISABLED') return;
  const previous = subscription.status;
  subscription.status = 'DISABLED';
  subscriptions.changed();
  subscription.updated_at = new Date(clock.now()).toISOString();
  events.publish([
    webhookLifecycle(
      'webhook.disabled',
      subscription,
      previous,
      {
        disable_reason: 'consecutive_failures_exceeded_threshold',
      },
      `webhook_auto_disable:${subscription.subscription_id}:${subscription.last_failure_at ?? ''}`,
    ),
  ]);
}
