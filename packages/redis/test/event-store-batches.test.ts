import type { ProtocolEvent } from '@cycles-guard/core/webhooks';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisEventStore } from '../src/redis-event-store.ts';
import { useRedis } from './support/server.ts';

// The event store coalesces the appends of one turn into one INCRBY and one pipeline. Against a model
// (a list per tenant, its newest `max` kept), on a real redis-server: appends in one turn, over several
// turns and concurrently, in any mix of tenants, list exactly the model's events in append order.

const redis = useRedis();
const clients: Redis[] = [];
afterAll(() => Promise.all(clients.map((client) => client.quit())));

let ids = 0;
const event = (tenant: string): ProtocolEvent => ({
  event_id: `evt_${++ids}`,
  event_type: 'budget.threshold_crossed',
  category: 'budget',
  timestamp: new Date().toISOString(),
  tenant_id: tenant,
  source: 'test',
});

describe('RedisEventStore batches', () => {
  it('stores every append of a turn and of later turns, in order, each tenant bounded', async () => {
    const client = new Redis(redis.server.url);
    clients.push(client);
    const turns = fc.array(
      fc.array(fc.array(fc.constantFrom('a', 'b', 'c'), { maxLength: 4 }), { maxLength: 6 }),
      {
        minLength: 1,
        maxLength: 5,
      },
    );
    await fc.assert(
      fc.asyncProperty(turns, fc.integer({ min: 1, max: 8 }), async (plan, max) => {
        const store = new RedisEventStore(client, redis.prefix(), { maxPerTenant: max });
        const model = new Map<string, string[]>();
        for (const turn of plan) {
          // One turn: every append made before any is awaited, as a ledger's flush publishes.
          const appends = turn.map((tenants) => {
            const made = tenants.map(event);
            for (const e of made) model.set(e.tenant_id, [...(model.get(e.tenant_id) ?? []), e.event_id]);
            return store.append(made);
          });
          await Promise.all(appends);
        }
        for (const tenant of ['a', 'b', 'c']) {
          const page = await store.list({ tenant, sortDir: 'asc', limit: 100 });
          expect(page.events.map((e) => e.event_id)).toEqual((model.get(tenant) ?? []).slice(-max));
          for (const id of (model.get(tenant) ?? []).slice(-max))
            expect((await store.get(id))?.event_id).toBe(id);
        }
      }),
      { numRuns: 40 },
    );
  });
});
