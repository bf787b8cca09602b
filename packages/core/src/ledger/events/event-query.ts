import { invalid } from '../../protocol/errors.ts';
import {
  EVENT_CATEGORIES,
  EVENT_TYPES,
  type EventCategory,
  type EventType,
  type ProtocolEvent,
} from './event-types.ts';

// The filters and paging of GOV listEvents / listTenantEvents, checked once for every store.

/** A page request over stored events. `tenant` is a filter for the admin and forced for a tenant. */
export interface EventQuery {
  tenant?: string;
  eventType?: EventType;
  category?: EventCategory;
  /**
   * Only events of these categories: a tenant's listing sets `TENANT_CATEGORIES`, since the webhook
   * events its own subscriptions cause are kept under it too (not a wire filter).
   */
  categories?: readonly EventCategory[];
  /** Scope path prefix. */
  scope?: string;
  correlationId?: string;
  traceId?: string;
  requestId?: string;
  /** Inclusive bounds on the event time (ms since the epoch). */
  fromMs?: number;
  toMs?: number;
  /** Case-insensitive substring of the id, type, scope or correlation id (≤ 128 chars). */
  search?: string;
  /** By time (the only order this server keeps); default `desc`, newest first. */
  sortDir?: 'asc' | 'desc';
  /** 1–100, default 50. */
  limit?: number;
  /** `nextCursor` of the previous page, under the same filters. */
  cursor?: string;
}

/** One page of events. */
export interface EventPage {
  events: ProtocolEvent[];
  nextCursor?: string;
  hasMore: boolean;
}

export const DEFAULT_EVENT_PAGE = 50;
export const MAX_EVENT_PAGE = 100;
export const MAX_EVENT_SEARCH = 128;

/** Refuses a query no store could answer, naming the field and the fix (400 INVALID_REQUEST). */
export function validateEventQuery(query: EventQuery): void {
  if (query.eventType !== undefined && !EVENT_TYPES.includes(query.eventType)) {
    throw invalid(
      'event_type',
      `is not an event type: ${String(query.eventType).slice(0, 64)}`,
      'use one of GOV EventType, e.g. budget.threshold_crossed',
    );
  }
  if (query.category !== undefined && !EVENT_CATEGORIES.includes(query.category)) {
    throw invalid('category', 'is not an event category', `use one of ${EVENT_CATEGORIES.join(', ')}`);
  }
  if (query.search !== undefined && query.search.length > MAX_EVENT_SEARCH) {
    throw invalid('search', `is longer than ${MAX_EVENT_SEARCH} characters`, 'send a shorter search');
  }
  if (query.traceId !== undefined && !/^[0-9a-f]{32}$/.test(query.traceId)) {
    throw invalid('trace_id', 'must be 32 lowercase hex characters', 'send a W3C trace id');
  }
  for (const [field, value] of [
    ['from', query.fromMs],
    ['to', query.toMs],
  ] as const) {
    if (value !== undefined && !Number.isFinite(value))
      throw invalid(field, 'is not a date-time', 'send an ISO 8601 time');
  }
  if (query.fromMs !== undefined && query.toMs !== undefined && query.fromMs > query.toMs) {
    throw invalid('from', 'is after to', 'send from ≤ to');
  }
  if (query.sortDir !== undefined && query.sortDir !== 'asc' && query.sortDir !== 'desc') {
    throw invalid('sort_dir', 'must be asc or desc', 'send sort_dir=asc or sort_dir=desc');
  }
  const limit = query.limit;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > MAX_EVENT_PAGE)) {
    throw invalid('limit', `must be an integer from 1 to ${MAX_EVENT_PAGE}`, 'send a smaller page size');
  }
  if (query.cursor !== undefined) decodeEventCursor(query.cursor);
}

/** The position a cursor stands for (a store's sequence number). */
export function decodeEventCursor(cursor: string): number {
  const sequence = /^e[0-9a-z]{1,12}$/.test(cursor) ? Number.parseInt(cursor.slice(1), 36) : Number.NaN;
  if (!Number.isSafeInteger(sequence)) {
    throw invalid('cursor', 'is not an events cursor', 'pass next_cursor from the previous page');
  }
  return sequence;
}

export function encodeEventCursor(sequence: number): string {
  return `e${sequence.toString(36)}`;
}

/** Whether an event passes the query's filters (not the paging). */
export function matchesEventQuery(event: ProtocolEvent, timeMs: number, query: EventQuery): boolean {
  if (query.tenant !== undefined && event.tenant_id !== query.tenant) return false;
  if (query.eventType !== undefined && event.event_type !== query.eventType) return false;
  if (query.category !== undefined && event.category !== query.category) return false;
  if (query.categories !== undefined && !query.categories.includes(event.category)) return false;
  if (query.scope !== undefined && !(event.scope ?? '').startsWith(query.scope)) return false;
  if (query.correlationId !== undefined && event.correlation_id !== query.correlationId) return false;
  if (query.traceId !== undefined && event.trace_id !== query.traceId) return false;
  if (query.requestId !== undefined && event.request_id !== query.requestId) return false;
  if (query.fromMs !== undefined && timeMs < query.fromMs) return false;
  if (query.toMs !== undefined && timeMs > query.toMs) return false;
  if (query.search !== undefined && query.search !== '') {
    const needle = query.search.toLowerCase();
    const haystack = [event.event_id, event.event_type, event.scope ?? '', event.correlation_id ?? ''];
    if (!haystack.some((value) => value.toLowerCase().includes(needle))) return false;
  }
  return true;
}

/** A stored event with the position and time stores page and filter by. */
export interface StoredEvent {
  sequence: number;
  timeMs: number;
  event: ProtocolEvent;
}

/**
 * One page of `candidates` (in ascending sequence order) under `query`: filtered, ordered by
 * `sortDir`, resumed after the cursor's position.
 */
export function pageOfEvents(candidates: readonly StoredEvent[], query: EventQuery): EventPage {
  const limit = query.limit ?? DEFAULT_EVENT_PAGE;
  const descending = query.sortDir !== 'asc';
  const after = query.cursor === undefined ? undefined : decodeEventCursor(query.cursor);
  const events: ProtocolEvent[] = [];
  let last: number | undefined;
  const step = descending ? -1 : 1;
  for (let i = descending ? candidates.length - 1 : 0; i >= 0 && i < candidates.length; i += step) {
    const stored = candidates[i]!;
    if (after !== undefined && (descending ? stored.sequence >= after : stored.sequence <= after)) continue;
    if (!matchesEventQuery(stored.event, stored.timeMs, query)) continue;
    if (events.length === limit) {
      return { events, nextCursor: encodeEventCursor(last!), hasMore: true };
    }
    events.push(stored.event);
    last = stored.sequence;
  }
  return { events, hasMore: false };
}
