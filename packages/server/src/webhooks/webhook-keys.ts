// Every Redis key of the webhook store, built here and only here. A subscription's deliveries share a
// hash tag (`{subscription}`), so they stay together on one Cluster slot.

/** A key shared by all subscriptions: `subs` (id → subscription), `pending` (deliveries not yet ended). */
export function sharedWebhookKey(prefix: string, kind: 'subs' | 'pending'): string {
  return `${prefix}webhooks:${kind}`;
}

/** A key of one subscription's deliveries: `order` (by sequence) or `records` (id → delivery). */
export function subscriptionKey(prefix: string, subscriptionId: string, kind: 'order' | 'records'): string {
  return `${prefix}webhooks:{${subscriptionId}}:${kind}`;
}
