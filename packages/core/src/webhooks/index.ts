// @cycles-guard/core/webhooks: the ledger's protocol events (budget alerts, reservation outcomes, admin
// changes) and their delivery to an HTTP endpoint: the event types, which events a ledger derives
// (thresholds), a sink that posts them signed, and the signature check a receiver runs.

export type { LedgerEventsOptions, ThresholdRule } from '../ledger/events/event-log.ts';
export type { EventCategory, EventType, ProtocolEvent } from '../ledger/events/event-types.ts';
export { eventJson } from './event-json.ts';
export type { WebhookRetryPolicy } from './retry-policy.ts';
export { signWebhookBody, verifyWebhookSignature } from './signature.ts';
export { createWebhookSink, type WebhookSink, type WebhookSinkOptions } from './webhook-sink.ts';
