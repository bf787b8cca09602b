import type { EventDraft } from '@cycles-guard/core/ledger-kit';
import type { SubscriptionRecord } from './subscription.ts';

/**
 * A `webhook.*` event (GOV `EventDataWebhookLifecycle`), kept under the subscription's tenant: a tenant
 * causing thousands (a PATCH loop) pushes out its own older events, never the admin's `__system__` ones.
 * A tenant's listing leaves them out (only budget, reservation and tenant events are its to read).
 */
export function webhookLifecycle(
  type:
    | 'webhook.created'
    | 'webhook.updated'
    | 'webhook.paused'
    | 'webhook.resumed'
    | 'webhook.disabled'
    | 'webhook.deleted',
  subscription: SubscriptionRecord,
  previous: SubscriptionRecord['status'] | undefined,
  extra: Record<string, unknown> = {},
  correlationId?: string,
): EventDraft {
  const data: Record<string, unknown> = {
    subscription_id: subscription.subscription_id,
    tenant_id: subscription.tenant_id,
    ...extra,
  };
  if (previous !== undefined) data.previous_status = previous;
  if (type !== 'webhook.deleted') data.new_status = subscription.status;
  const draft: EventDraft = { type, tenant: subscription.tenant_id, data };
  if (correlationId !== undefined) draft.correlationId = correlationId;
  return draft;
}
