import { type Clock, systemClock } from '../../clock.ts';
import { type EventPage, type EventQuery, pageOfEvents, type StoredEvent } from './event-query.ts';
import type { EventStore } from './event-store.ts';
import type { ProtocolEvent } from './event-types.ts';

/** Bounds of the in-memory event store. */
export interface MemoryEventStoreOptions {
  /** Events kept per tenant; past it the tenant's own oldest go. Default 10,000. */
  maxPerTenant?: number;
  /** Events older than this are forgotten. Default 7 days. */
  retentionMs?: number;
  clock?: Clock;
}

/** One tenant's events in append order, oldest first (a moving head instead of shifting the array). */
class TenantEvents {
  items: StoredEvent[] = [];
  head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  dropOldest(byId: Map<string, StoredEvent>): void {
    const oldest = this.items[this.head]!;
    byId.delete(oldest.event.event_id);
    this.items[this.head] = undefined as unknown as StoredEvent;
    this.head++;
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  live(): StoredEvent[] {
    return this.head === 0 ? this.items : this.items.slice(this.head);
  }
}

/**
 * Events in process memory, one bounded queue per tenant (system events under `__system__`), so a noisy
 * tenant only ever pushes out its own oldest events. Lost on restart, like the memory ledger itself.
 */
export class MemoryEventStore implements EventStore {
  private readonly tenants = new Map<string, TenantEvents>();
  private readonly byId = new Map<string, StoredEvent>();
  private readonly maxPerTenant: number;
  private readonly retentionMs: number;
  private readonly clock: Clock;
  private sequence = 0;

  constructor(options: MemoryEventStoreOptions = {}) {
    this.maxPerTenant = options.maxPerTenant ?? 10_000;
    this.retentionMs = options.retentionMs ?? 7 * 86_400_000;
    this.clock = options.clock ?? systemClock;
  }

  /** Synchronous append (the memory ledger calls it inside its atomic step, so order is kept). */
  add(event: ProtocolEvent): void {
    let queue = this.tenants.get(event.tenant_id);
    if (queue === undefined) {
      queue = new TenantEvents();
      this.tenants.set(event.tenant_id, queue);
    }
    const stored: StoredEvent = { sequence: ++this.sequence, timeMs: Date.parse(event.timestamp), event };
    queue.items.push(stored);
    this.byId.set(event.event_id, stored);
    while (queue.size > this.maxPerTenant) queue.dropOldest(this.byId);
    this.expire(queue, this.clock.now());
  }

  async append(events: readonly ProtocolEvent[]): Promise<void> {
    for (const event of events) this.add(event);
  }

  async list(query: EventQuery): Promise<EventPage> {
    const now = this.clock.now();
    let candidates: StoredEvent[];
    if (query.tenant !== undefined) {
      const queue = this.tenants.get(query.tenant);
      if (queue !== undefined) this.expire(queue, now);
      candidates = queue?.live() ?? [];
    } else {
      candidates = [];
      for (const queue of this.tenants.values()) {
        this.expire(queue, now);
        candidates.push(...queue.live());
      }
      candidates.sort((a, b) => a.sequence - b.sequence);
    }
    return pageOfEvents(candidates, query);
  }

  async get(eventId: string): Promise<ProtocolEvent | undefined> {
    const stored = this.byId.get(eventId);
    if (stored === undefined || stored.timeMs < this.clock.now() - this.retentionMs) return undefined;
    return stored.event;
  }

  /** How many events are kept for a tenant (tests, bounds). */
  countOf(tenant: string): number {
    return this.tenants.get(tenant)?.size ?? 0;
  }

  private expire(queue: TenantEvents, now: number): void {
    const horizon = now - this.retentionMs;
    while (queue.size > 0 && queue.items[queue.head]!.timeMs < horizon) queue.dropOldest(this.byId);
  }
}
