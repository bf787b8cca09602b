import type { EventPage, EventQuery } from './event-query.ts';
import type { ProtocolEvent } from './event-types.ts';

/**
 * Where a ledger keeps its events: in memory (`MemoryEventStore`) or on Redis (`@cycles-guard/redis`).
 * Bounded per tenant and by time; one tenant's events can never push out another's.
 */
export interface EventStore {
  /** Stores events (in order). Must never throw into the operation that produced them. */
  append(events: readonly ProtocolEvent[]): Promise<void>;
  /** A page of events; `query` is validated already. */
  list(query: EventQuery): Promise<EventPage>;
  get(eventId: string): Promise<ProtocolEvent | undefined>;
}
