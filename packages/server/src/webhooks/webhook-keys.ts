// Every Redis key of the webhook store, built here and only here. A subscription's deliveries share a
// hash tag (`{subscription}`), so they stay together on one Cluster slot.

/**
 * A key shared by all subscriptions: `subs` (id → subscription), `pending` (deliveries not yet ended),
 * `version` (bumped by every subscription write, so other servers know to reload), `security` (the
 * admin's `WebhookSecurityConfig`, bumping `version` too), `marks` (server → its delivery mark).
 */
export function sharedWebhookKey(
  prefix: string,
  kind: 'subs' | 'pending' | 'version' | 'security' | 'marks',
): string {
  return `${prefix}webhooks:${kind}`;
}

/** A key of one subscription's deliveries: `order` (by sequence) or `records` (id → delivery). */
export function subscriptionKey(prefix: string, subscriptionId: string, kind: 'order' | 'records'): string {
  return `${prefix}webhooks:{${subscriptionId}}:${kind}`;
}
