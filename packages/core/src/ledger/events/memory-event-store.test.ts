import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../clock.ts';
import { CyclesError } from '../../protocol/errors.ts';
import { LedgerEventLog } from './event-log.ts';
import { EVENT_TYPES, type EventType } from './event-types.ts';
import { MemoryEventStore } from './memory-event-store.ts';

function logWith(store: MemoryEventStore, clock: ManualClock) {
  return new LedgerEventLog({ store }, clock);
}

describe('memory event store', () => {
  it('bounds each tenant on its own: a flood only pushes out the flooding tenant’s events', async () => {
    const clock = new ManualClock();
    const store = new MemoryEventStore({ maxPerTenant: 10, clock });
    const log = logWith(store, clock);
    log.publish([{ type: 'budget.exhausted', tenant: 'quiet', scope: 'tenant:quiet' }]);
    for (let i = 0; i < 500; i++) log.publish([{ type: 'reservation.denied', tenant: 'noisy' }]);
    expect(store.countOf('noisy')).toBe(10);
    expect(store.countOf('quiet')).toBe(1);
    const quiet = await log.list({ tenant: 'quiet' });
    expect(quiet.events.map((event) => event.event_type)).toEqual(['budget.exhausted']);
    expect(await log.get(quiet.events[0]!.event_id)).toEqual(quiet.events[0]);
  });

  it('forgets events past the retention', async () => {
    const clock = new ManualClock();
    const store = new MemoryEventStore({ retentionMs: 1000, clock });
    const log = logWith(store, clock);
    const [old] = log.publish([{ type: 'budget.exhausted', tenant: 'acme' }]);
    clock.advance(1001);
    log.publish([{ type: 'budget.exhausted', tenant: 'acme' }]);
    expect(await log.get(old!.event_id)).toBeUndefined();
    expect((await log.list({ tenant: 'acme' })).events).toHaveLength(1);
  });

  it('pages every matching event exactly once, in order, under any filter, page size and direction', async () => {
    const type = fc.constantFrom<EventType>('budget.exhausted', 'reservation.denied', 'tenant.created');
    const draft = fc.record({
      type,
      tenant: fc.constantFrom('a', 'b', undefined),
      advance: fc.nat({ max: 3 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(draft, { maxLength: 60 }),
        fc.integer({ min: 1, max: 7 }),
        fc.constantFrom<'asc' | 'desc'>('asc', 'desc'),
        fc.option(type, { nil: undefined }),
        fc.option(fc.constantFrom('a', 'b', '__system__'), { nil: undefined }),
        async (drafts, limit, sortDir, eventType, tenant) => {
          const clock = new ManualClock();
          const log = logWith(new MemoryEventStore({ clock }), clock);
          const published = drafts.flatMap((d) => {
            clock.advance(d.advance);
            return log.publish([{ type: d.type, tenant: d.tenant }]);
          });
          const expected = published.filter(
            (event) =>
              (eventType === undefined || event.event_type === eventType) &&
              (tenant === undefined || event.tenant_id === tenant),
          );
          if (sortDir === 'desc') expected.reverse();
          const filters = {
            limit,
            sortDir,
            ...(eventType ? { eventType } : {}),
            ...(tenant ? { tenant } : {}),
          };
          const seen = [];
          let cursor: string | undefined;
          for (;;) {
            const page = await log.list({ ...filters, ...(cursor ? { cursor } : {}) });
            expect(page.events.length).toBeLessThanOrEqual(limit);
            seen.push(...page.events);
            if (!page.hasMore) break;
            cursor = page.nextCursor;
          }
          expect(seen.map((e) => e.event_id)).toEqual(expected.map((e) => e.event_id));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses a bad query with INVALID_REQUEST naming the wire field', async () => {
    const log = new LedgerEventLog();
    const cases: [Record<string, unknown>, string][] = [
      [{ eventType: 'budget.nope' }, 'event_type'],
      [{ category: 'quota' }, 'category'],
      [{ search: 'x'.repeat(129) }, 'search'],
      [{ traceId: 'ABC' }, 'trace_id'],
      [{ fromMs: 10, toMs: 5 }, 'from'],
      [{ limit: 0 }, 'limit'],
      [{ limit: 101 }, 'limit'],
      [{ cursor: 'garbage!' }, 'cursor'],
      [{ sortDir: 'up' }, 'sort_dir'],
    ];
    for (const [query, field] of cases) {
      const error = await log.list(query).catch((caught: unknown) => caught);
      expect(CyclesError.isInstance(error), JSON.stringify(query)).toBe(true);
      expect((error as CyclesError).code).toBe('INVALID_REQUEST');
      expect((error as CyclesError).details?.field).toBe(field);
    }
    expect(EVENT_TYPES).toContain('reservation.observed_denied');
  });
});
