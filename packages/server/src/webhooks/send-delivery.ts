import { type Clock, webhookRequest } from '@cycles-guard/core/ledger-kit';
import { eventJson } from '@cycles-guard/core/webhooks';
import type { DeliveryRecord } from './delivery.ts';
import type { WebhookPoster } from './http-post.ts';
import type { SubscriptionRecord } from './subscription.ts';
import type { WebhookStore } from './webhook-store.ts';

// Sending a delivery: one signed POST recorded on it, and its end stored.

/** How one attempt ended: the endpoint's status if it answered, an error unless it was a 2xx. */
export interface AttemptResult {
  status?: number;
  error?: string;
}

/** One signed POST of the delivery's event; the attempt is recorded on the delivery (not stored). */
export async function sendDelivery(
  poster: WebhookPoster,
  clock: Clock,
  subscription: SubscriptionRecord,
  delivery: DeliveryRecord,
): Promise<AttemptResult> {
  const request = webhookRequest(
    delivery.event,
    subscription.signing_secret,
    subscription.headers,
    delivery.trace_flags,
    eventJson(delivery.event),
  );
  const started = performance.now();
  let status: number | undefined;
  let error: string | undefined;
  try {
    status = await poster.post(subscription.url, request.body, request.headers);
    if (status < 200 || status > 299) error = `HTTP ${status}`;
  } catch (caught) {
    error = caught instanceof Error ? caught.message : String(caught);
  }
  delivery.attempts++;
  delivery.attempted_at = new Date(clock.now()).toISOString();
  delivery.response_time_ms = Math.round(performance.now() - started);
  if (status === undefined) delete delivery.response_status;
  else delivery.response_status = status;
  return status === undefined ? { error: error! } : error === undefined ? { status } : { status, error };
}

/** Ends a delivery (SUCCESS, or FAILED with its error) and stores it. */
export async function finishDelivery(
  store: WebhookStore,
  clock: Clock,
  delivery: DeliveryRecord,
  status: 'SUCCESS' | 'FAILED',
  error?: string,
): Promise<void> {
  delivery.status = status;
  delivery.completed_at = new Date(clock.now()).toISOString();
  delete delivery.next_retry_at;
  if (error === undefined) delete delivery.error_message;
  else delivery.error_message = error.slice(0, 512);
  await store.saveDelivery(delivery);
}
