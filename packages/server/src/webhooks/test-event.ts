import { randomBytes } from 'node:crypto';
import type { ProtocolEvent } from '@cycles-guard/core/webhooks';
import type { DeliveryRecord } from './delivery.ts';
import type { SubscriptionRecord } from './subscription.ts';

// GOV testWebhookSubscription / testTenantWebhook: the synthetic `system.webhook_test` event a probe
// sends, and the `WebhookTestResponse` it answers. The event goes to that one subscription only (it is
// not stored with the ledger's events: the system never emits it), so a tenant-owned subscription may
// receive it although `system.*` is otherwise admin-only (GOV invariant 2, probe exception).

/** The probe's event, under the subscription's tenant, carrying the probing request's ids. */
export function webhookTestEvent(
  subscription: SubscriptionRecord,
  origin: { requestId: string; traceId: string },
  nowMs: number,
): ProtocolEvent {
  return {
    event_id: `evt_test_${randomBytes(10).toString('hex')}`,
    event_type: 'system.webhook_test',
    category: 'system',
    timestamp: new Date(nowMs).toISOString(),
    tenant_id: subscription.tenant_id,
    source: 'cycles-guard',
    data: {
      component: 'webhook_dispatcher',
      message: `Test event for webhook subscription ${subscription.subscription_id}`,
      severity: 'info',
      details: { subscription_id: subscription.subscription_id },
    },
    request_id: origin.requestId,
    trace_id: origin.traceId,
  };
}

/** GOV `WebhookTestResponse` of a probe's delivery. */
export function toWebhookTestResponse(delivery: DeliveryRecord): Record<string, unknown> {
  const response: Record<string, unknown> = {
    success: delivery.status === 'SUCCESS',
    event_id: delivery.event_id,
  };
  if (delivery.response_status !== undefined) response.response_status = delivery.response_status;
  if (delivery.response_time_ms !== undefined) response.response_time_ms = delivery.response_time_ms;
  if (delivery.error_message !== undefined) response.error_message = delivery.error_message;
  return response;
}
