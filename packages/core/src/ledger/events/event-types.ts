// The protocol's Event envelope (GOV `Event`, `EventType`, `EventCategory`), in its wire shape: it is what
// the event listing routes answer and what a webhook POSTs, byte for byte, so it is kept as sent.

/** GOV `EventCategory`. */
export const EVENT_CATEGORIES = [
  'budget',
  'tenant',
  'api_key',
  'policy',
  'reservation',
  'system',
  'webhook',
] as const;
export type EventCategory = (typeof EVENT_CATEGORIES)[number];

/** GOV `EventType` (v0.1.25) plus the two observe-mode types of PEXT v0.1.26. */
export const EVENT_TYPES = [
  'budget.created',
  'budget.updated',
  'budget.funded',
  'budget.debited',
  'budget.reset',
  'budget.reset_spent',
  'budget.debt_repaid',
  'budget.frozen',
  'budget.unfrozen',
  'budget.closed',
  'budget.closed_via_tenant_cascade',
  'budget.threshold_crossed',
  'budget.exhausted',
  'budget.over_limit_entered',
  'budget.over_limit_exited',
  'budget.debt_incurred',
  'budget.burn_rate_anomaly',
  'reservation.denied',
  'reservation.denial_rate_spike',
  'reservation.expired',
  'reservation.expiry_rate_spike',
  'reservation.commit_overage',
  'reservation.released_via_tenant_cascade',
  'reservation.observed_denied',
  'reservation.observed_allowed',
  'tenant.created',
  'tenant.updated',
  'tenant.suspended',
  'tenant.reactivated',
  'tenant.closed',
  'tenant.settings_changed',
  'webhook.created',
  'webhook.updated',
  'webhook.paused',
  'webhook.resumed',
  'webhook.disabled',
  'webhook.deleted',
  'webhook.disabled_via_tenant_cascade',
  'api_key.created',
  'api_key.revoked',
  'api_key.revoked_via_tenant_cascade',
  'api_key.expired',
  'api_key.permissions_changed',
  'api_key.auth_failed',
  'api_key.auth_failure_rate_spike',
  'policy.created',
  'policy.updated',
  'policy.deleted',
  'system.store_connection_lost',
  'system.store_connection_restored',
  'system.high_latency',
  'system.webhook_delivery_failed',
  'system.webhook_test',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Categories a tenant may read and subscribe to (GOV subscription invariant 2). */
export const TENANT_CATEGORIES: readonly EventCategory[] = ['budget', 'reservation', 'tenant'];

/** The tenant id of events no tenant owns. */
export const SYSTEM_TENANT = '__system__';

/** Who caused an event (GOV `Event.actor`). */
export interface EventActor {
  type: 'admin' | 'api_key' | 'admin_on_behalf_of' | 'system' | 'scheduler';
  key_id?: string;
  source_ip?: string;
}

/** GOV `Event`: immutable, in its wire shape (snake_case). */
export interface ProtocolEvent {
  event_id: string;
  event_type: EventType;
  category: EventCategory;
  /** ISO 8601. */
  timestamp: string;
  tenant_id: string;
  source: string;
  scope?: string;
  actor?: EventActor;
  data?: Record<string, unknown>;
  correlation_id?: string;
  request_id?: string;
  trace_id?: string;
  metadata?: Record<string, unknown>;
}

/** What a producer knows of an event before it is stamped with an id and a time. */
export interface EventDraft {
  type: EventType;
  tenant: string | undefined;
  scope?: string;
  data?: Record<string, unknown>;
  correlationId?: string;
}

/** The request an event is downstream of (GOV: request_id and trace_id MUST be set when there is one). */
export interface EventOrigin {
  requestId?: string;
  traceId?: string;
  actor?: EventActor;
}

/** The category of an event type (`budget.exhausted` → `budget`). */
export function categoryOf(type: EventType): EventCategory {
  return type.slice(0, type.indexOf('.')) as EventCategory;
}

/** The tenant of a scope path (`tenant:acme/app:x` → `acme`), or undefined. */
export function tenantOfScope(scope: string): string | undefined {
  if (!scope.startsWith('tenant:')) return undefined;
  const end = scope.indexOf('/');
  return scope.slice(7, end === -1 ? undefined : end);
}
