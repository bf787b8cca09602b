import type { EventPage, EventQuery, EventStore } from '@cycles-guard/core/ledger-kit';
import {
  decodeEventCursor,
  matchesEventQuery,
  pageOfEvents,
  type StoredEvent,
} from '@cycles-guard/core/ledger-kit';
import { eventJson, type ProtocolEvent } from '@cycles-guard/core/webhooks';
import type { Cluster, Redis } from 'ioredis';
import { sharedEventKey, tenantEventKey } from './event-keys.ts';
import { whenConnected } from './when-connected.ts';

/** Bounds of the Redis event store. */
export interface RedisEventStoreOptions {
  /** Events kept per tenant (its own oldest go first). Default 10,000. */
  maxPerTenant?: number;
  /** A tenant's events expire this long after its last one, and each event's id entry after this. Default 7 days. */
  retentionMs?: number;
}

const SCAN_BATCH = 200;

/**
 * Events on Redis: one sorted set per tenant (scored by a shared sequence, so pages are stable), bounded
 * per tenant, so every server on the same Redis lists the same events.
 */
export class RedisEventStore implements EventStore {
  private readonly maxPerTenant: number;
  private readonly retentionMs: number;

  constructor(
    private readonly client: Redis | Cluster,
    private readonly prefix: string,
    options: RedisEventStoreOptions = {},
  ) {
    this.maxPerTenant = options.maxPerTenant ?? 10_000;
    this.retentionMs = options.retentionMs ?? 7 * 86_400_000;
  }

  private connected(): Promise<void> {
    return whenConnected(this.client);
  }

  /** Events appended this turn, written together on the next microtask. */
  private queued: ProtocolEvent[] = [];
  private written: Promise<void> = Promise.resolve();

  /**
   * Appends, coalescing the appends of one turn (a ledger publishes a batch of operations' events in one
   * loop) into one `INCRBY` and one pipeline: under load, two round trips per operation kept events
   * waiting longer before they were stored, the window a crash loses them in.
   */
  append(events: readonly ProtocolEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    if (this.queued.length === 0) {
      this.written = Promise.resolve().then(() => {
        const batch = this.queued;
        this.queued = [];
        return this.write(batch);
      });
    }
    this.queued.push(...events);
    return this.written;
  }

  private async write(events: readonly ProtocolEvent[]): Promise<void> {
    await this.connected();
    const last = await this.client.incrby(sharedEventKey(this.prefix, 'seq'), events.length);
    const commands: (string | number)[][] = [];
    const tenants = new Set<string>();
    events.forEach((event, index) => {
      const sequence = last - events.length + 1 + index;
      const id = sharedEventKey(this.prefix, `id:${event.event_id}`);
      commands.push([
        'zadd',
        tenantEventKey(this.prefix, event.tenant_id, 'log'),
        sequence,
        eventJson(event),
      ]);
      commands.push(['set', id, `${sequence}|${event.tenant_id}`, 'PX', this.retentionMs]);
      tenants.add(event.tenant_id);
    });
    // Each tenant's log trimmed and its expiry pushed once per batch, after its events are in.
    for (const tenant of tenants) {
      const log = tenantEventKey(this.prefix, tenant, 'log');
      commands.push(['zremrangebyrank', log, 0, -(this.maxPerTenant + 1)]);
      commands.push(['pexpire', log, this.retentionMs]);
      commands.push(['sadd', sharedEventKey(this.prefix, 'tenants'), tenant]);
    }
    // One pipeline on one Redis. On Redis Cluster a batch's keys live in several slots (a tenant's log,
    // the shared index), which one pipeline cannot span: each write is routed on its own.
    if (this.client.isCluster) {
      await Promise.all(commands.map(([name, ...args]) => this.client.call(String(name), ...args)));
    } else {
      await this.client.pipeline(commands).exec();
    }
  }

  async get(eventId: string): Promise<ProtocolEvent | undefined> {
    await this.connected();
    const where = await this.client.get(sharedEventKey(this.prefix, `id:${eventId}`));
    if (where === null) return undefined;
    const bar = where.indexOf('|');
    const sequence = where.slice(0, bar);
    const log = tenantEventKey(this.prefix, where.slice(bar + 1), 'log');
    const [member] = await this.client.zrangebyscore(log, sequence, sequence);
    return member === undefined ? undefined : (JSON.parse(member) as ProtocolEvent);
  }

  async list(query: EventQuery): Promise<EventPage> {
    await this.connected();
    const tenants =
      query.tenant === undefined
        ? await this.client.smembers(sharedEventKey(this.prefix, 'tenants'))
        : [query.tenant];
    const wanted = (query.limit ?? 50) + 1;
    const candidates: StoredEvent[] = [];
    for (const tenant of tenants) candidates.push(...(await this.scan(tenant, query, wanted)));
    candidates.sort((a, b) => a.sequence - b.sequence);
    return pageOfEvents(candidates, query);
  }

  /** Up to `wanted` of a tenant's events matching the query, in its order, after its cursor. */
  private async scan(tenant: string, query: EventQuery, wanted: number): Promise<StoredEvent[]> {
    const log = tenantEventKey(this.prefix, tenant, 'log');
    const descending = query.sortDir !== 'asc';
    const after = query.cursor === undefined ? undefined : decodeEventCursor(query.cursor);
    const found: StoredEvent[] = [];
    let bound = after === undefined ? (descending ? '+inf' : '-inf') : `(${after}`;
    for (;;) {
      const reply = descending
        ? await this.client.zrevrangebyscore(log, bound, '-inf', 'WITHSCORES', 'LIMIT', 0, SCAN_BATCH)
        : await this.client.zrangebyscore(log, bound, '+inf', 'WITHSCORES', 'LIMIT', 0, SCAN_BATCH);
      for (let i = 0; i < reply.length; i += 2) {
        const event = JSON.parse(reply[i]!) as ProtocolEvent;
        const stored = { sequence: Number(reply[i + 1]), timeMs: Date.parse(event.timestamp), event };
        if (matchesEventQuery(event, stored.timeMs, query)) found.push(stored);
        if (found.length === wanted) return found;
      }
      if (reply.length < 2 * SCAN_BATCH) return found;
      bound = `(${reply[reply.length - 1]}`;
    }
  }

  /**
   * Claims fired-once alerts (`budget.threshold_crossed` per window and direction) for every server, all
   * in one round trip: whether each is this server's to send. A claim Redis could not answer is granted
   * (a duplicate alert beats a lost one).
   */
  async claimAll(claims: readonly { tenant: string; alert: string }[], ttlMs: number): Promise<boolean[]> {
    if (claims.length === 0) return [];
    await this.connected();
    const keys = claims.map(({ tenant, alert }) => tenantEventKey(this.prefix, tenant, `once:${alert}`));
    // Redis Cluster: the claims of several tenants live in several slots, which one pipeline cannot span.
    if (this.client.isCluster) {
      return Promise.all(
        keys.map((key) =>
          this.client.set(key, '1', 'PX', ttlMs, 'NX').then(
            (reply) => reply === 'OK',
            () => true,
          ),
        ),
      );
    }
    const replies = await this.client
      .pipeline(keys.map((key) => ['set', key, '1', 'PX', ttlMs, 'NX']))
      .exec();
    return keys.map((_, index) => {
      const [error, reply] = replies?.[index] ?? [new Error('no reply')];
      return error !== null || reply === 'OK';
    });
  }
}
