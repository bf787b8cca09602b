import type { ProtocolEvent } from '../ledger/events/event-types.ts';
import { signWebhookBody } from './signature.ts';
import { newSpanId } from './span-id.ts';

/** The body and headers of one webhook POST: the `Event` itself, signed over the exact bytes sent. */
export interface WebhookRequest {
  body: string;
  headers: Record<string, string>;
}

export const WEBHOOK_USER_AGENT = 'cycles-guard-webhooks/1';

/**
 * Builds a delivery (RT §WEBHOOK EVENT GUIDANCE): `Content-Type`, `X-Cycles-Event-Id`,
 * `X-Cycles-Event-Type`, `X-Cycles-Signature`, `X-Cycles-Trace-Id` and `traceparent` (the event's trace
 * with a fresh span id; `traceFlags` kept from the inbound request, else `01`), `User-Agent`, then the
 * subscription's own headers (which cannot replace the signed ones). `body` is the event's JSON when
 * the caller has it already (one encoding per event, however many deliveries).
 */
export function webhookRequest(
  event: ProtocolEvent,
  secret: string,
  custom: Record<string, string> = {},
  traceFlags = '01',
  body: string = JSON.stringify(event),
): WebhookRequest {
  const headers: Record<string, string> = { ...custom };
  headers['Content-Type'] = 'application/json';
  headers['User-Agent'] = WEBHOOK_USER_AGENT;
  headers['X-Cycles-Event-Id'] = event.event_id;
  headers['X-Cycles-Event-Type'] = event.event_type;
  headers['X-Cycles-Signature'] = signWebhookBody(secret, body);
  if (event.trace_id !== undefined) {
    headers['X-Cycles-Trace-Id'] = event.trace_id;
    headers.traceparent = `00-${event.trace_id}-${newSpanId()}-${traceFlags}`;
  }
  return { body, headers };
}
