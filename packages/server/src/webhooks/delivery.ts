import type { ProtocolEvent } from '@cycles-guard/core/webhooks';

/** A delivery's GOV status: PENDING (not tried yet), RETRYING, SUCCESS (2xx) or FAILED (retries exhausted). */
export type DeliveryStatus = 'PENDING' | 'RETRYING' | 'SUCCESS' | 'FAILED';

/** One event to one subscription: the GOV `WebhookDelivery` record plus what the dispatcher needs. */
export interface DeliveryRecord {
  delivery_id: string;
  subscription_id: string;
  event_id: string;
  event_type: string;
  status: DeliveryStatus;
  /** Time of the last attempt (of creation while PENDING). */
  attempted_at: string;
  completed_at?: string;
  attempts: number;
  response_status?: number;
  response_time_ms?: number;
  error_message?: string;
  next_retry_at?: string;
  trace_id?: string;
  trace_flags?: string;
  /** Creation order within the store (paging) and time (the from/to filters). */
  sequence: number;
  createdMs: number;
  /** When the next attempt is due (ms). */
  dueMs: number;
  /** The event, as it will be POSTed. */
  event: ProtocolEvent;
}

/** A page request over one subscription's deliveries (newest first). */
export interface DeliveryQuery {
  status?: DeliveryStatus;
  fromMs?: number;
  toMs?: number;
  /** Resume after this sequence. */
  after?: number;
  limit: number;
}

export interface DeliveryPage {
  deliveries: DeliveryRecord[];
  /** The sequence to resume after, when there is more. */
  next?: number;
}

/** GOV `WebhookDelivery` as listed. */
export function toWireDelivery(record: DeliveryRecord): Record<string, unknown> {
  const { sequence: _s, createdMs: _c, dueMs: _d, event: _e, ...wire } = record;
  return wire;
}

/** Pages records (ascending sequence) newest first under the query. */
export function pageOfDeliveries(records: readonly DeliveryRecord[], query: DeliveryQuery): DeliveryPage {
  const deliveries: DeliveryRecord[] = [];
  for (let i = records.length - 1; i >= 0; i--) {
    const record = records[i]!;
    if (query.after !== undefined && record.sequence >= query.after) continue;
    if (query.status !== undefined && record.status !== query.status) continue;
    if (query.fromMs !== undefined && record.createdMs < query.fromMs) continue;
    if (query.toMs !== undefined && record.createdMs > query.toMs) continue;
    if (deliveries.length === query.limit) return { deliveries, next: deliveries.at(-1)!.sequence };
    deliveries.push(record);
  }
  return { deliveries };
}
