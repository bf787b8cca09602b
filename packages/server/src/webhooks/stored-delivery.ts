import { eventJson } from '@cycles-guard/core/webhooks';
import type { DeliveryRecord } from './delivery.ts';

// How a delivery record is stored on Redis (one hash field per delivery, under its subscription's key,
// which names the subscription). Almost every record is a delivery that succeeded and never changes
// again: it is stored as a JSON array of its values, without the names, a third of the bytes of the
// object (fewer bytes for the server to encode and send, and for Redis to read and keep). Any other
// record is the JSON object: a finished one without its event (the event store keeps it), an unfinished
// one with it (to resume after a restart), spliced in as already encoded. Reading tells them apart by
// the first character and gives the record back with its fields in the order the dispatcher set them.

/**
 * A succeeded delivery, positionally: delivery id, event id, event type, attempted_at, attempts,
 * sequence, createdMs, dueMs, trace id, trace flags, response time, response status, completed_at
 * (null where a record has no such field).
 */
type StoredSuccess = [
  string,
  string,
  string,
  string,
  number,
  number,
  number,
  number,
  string | null,
  string | null,
  number | null,
  number | null,
  string,
];

/** A delivery record as stored. */
export function encodeDelivery(record: DeliveryRecord): string {
  if (record.status === 'SUCCESS' && record.completed_at !== undefined) {
    const values: StoredSuccess = [
      record.delivery_id,
      record.event_id,
      record.event_type,
      record.attempted_at,
      record.attempts,
      record.sequence,
      record.createdMs,
      record.dueMs,
      record.trace_id ?? null,
      record.trace_flags ?? null,
      record.response_time_ms ?? null,
      record.response_status ?? null,
      record.completed_at,
    ];
    return JSON.stringify(values);
  }
  const { event, ...rest } = record;
  const json = JSON.stringify(rest);
  return isFinished(record) ? json : `${json.slice(0, -1)},"event":${eventJson(event)}}`;
}

/**
 * A stored delivery record of `subscriptionId`. A succeeded one comes back without its event (as every
 * finished one does): the listing never shows it.
 */
export function decodeDelivery(subscriptionId: string, stored: string): DeliveryRecord {
  if (stored[0] !== '[') return JSON.parse(stored) as DeliveryRecord;
  const [
    deliveryId,
    eventId,
    eventType,
    attemptedAt,
    attempts,
    sequence,
    createdMs,
    dueMs,
    traceId,
    traceFlags,
    responseTimeMs,
    responseStatus,
    completedAt,
  ] = JSON.parse(stored) as StoredSuccess;
  const record = {
    delivery_id: deliveryId,
    subscription_id: subscriptionId,
    event_id: eventId,
    event_type: eventType,
    status: 'SUCCESS',
    attempted_at: attemptedAt,
    attempts,
    sequence,
    createdMs,
    dueMs,
  } as DeliveryRecord;
  if (traceId !== null) record.trace_id = traceId;
  if (traceFlags !== null) record.trace_flags = traceFlags;
  if (responseTimeMs !== null) record.response_time_ms = responseTimeMs;
  if (responseStatus !== null) record.response_status = responseStatus;
  record.completed_at = completedAt;
  return record;
}

/** Whether a stored record is finished (SUCCESS or FAILED): it is then stored without its event. */
export function isFinished(record: DeliveryRecord): boolean {
  return record.status === 'SUCCESS' || record.status === 'FAILED';
}
