import { type EventDraft, SYSTEM_TENANT } from '@cycles-guard/core/ledger-kit';
import type { SubscriptionRecord } from './subscription.ts';

/** A `webhook.*` event (GOV `EventDataWebhookLifecycle`), kept under `__system__`: tenants never list them. */
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
  const draft: EventDraft = { type, tenant: SYSTEM_TENANT, data };
  if (correlationId !== undefined) draft.correlationId = correlationId;
  return draft;
}
