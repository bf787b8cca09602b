import { createRedisLedger, type RedisLedger } from '@cycles-guard/redis';
import { type RedisServer, startRedisServer } from '@cycles-guard/redis/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisWebhookStore } from '../src/webhooks/redis-webhook-store.ts';
import type { SubscriptionRecord } from '../src/webhooks/subscription.ts';
import { MemoryWebhookStore, type WebhookStore } from '../src/webhooks/webhook-store.ts';

// `replaceSubscription`, the tenant-close cascade's compare-and-set, against a model on both stores (a
// real redis-server for Redis): random saves, deletes and replaces of a few subscriptions, each replace
// expecting the current record or a stale one. A replace lands only on the record exactly as expected,
// never on a changed one, and never brings a deleted one back.

let redis: RedisServer;
let ledger: RedisLedger;
beforeAll(async () => {
  redis = await startRedisServer();
  ledger = createRedisLedger({ url: redis.url, keyPrefix: 'replace-ledger:' });
});
afterAll(async () => {
  await ledger?.close();
  await redis?.remove();
});

function record(id: number, version: number, status: SubscriptionRecord['status']): SubscriptionRecord {
  return {
    subscription_id: `whsub_${id}`,
    tenant_id: 'acme',
    url: 'https://hooks.example/h',
    event_types: version % 2 === 0 ? [] : ['budget.exhausted'],
    event_categories: ['budget'],
    status,
    name: `v${version} "quoted" \\ name`,
    created_at: '2026-01-01T00:00:00.000Z',
  } as SubscriptionRecord;
}

type Op =
  | { kind: 'save'; id: number; version: number }
  | { kind: 'delete'; id: number }
  | { kind: 'replace'; id: number; stale: boolean; version: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('save' as const), id: fc.nat({ max: 2 }), version: fc.nat({ max: 5 }) }),
  fc.record({ kind: fc.constant('delete' as const), id: fc.nat({ max: 2 }) }),
  fc.record({
    kind: fc.constant('replace' as const),
    id: fc.nat({ max: 2 }),
    stale: fc.boolean(),
    version: fc.nat({ max: 5 }),
  }),
);

let prefixes = 0;
const stores: [string, () => WebhookStore][] = [
  ['memory', () => new MemoryWebhookStore()],
  ['redis', () => new RedisWebhookStore(ledger.client, `replace-${++prefixes}:`)],
];

describe.each(stores)('replaceSubscription on the %s store', (_name, open) => {
  it('replaces exactly the record as expected, never a changed or deleted one', async () => {
    let replaced = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), async (ops) => {
        const store = open();
        const model = new Map<string, SubscriptionRecord>();
        for (const step of ops) {
          const id = `whsub_${step.id}`;
          if (step.kind === 'save') {
            const saved = record(step.id, step.version, 'ACTIVE');
            await store.saveSubscription(saved);
            model.set(id, saved);
          } else if (step.kind === 'delete') {
            await store.deleteSubscription(id);
            model.delete(id);
          } else {
            const current = model.get(id);
            const expected =
              step.stale || current === undefined ? record(step.id, step.version, 'PAUSED') : current;
            const next = { ...expected, status: 'DISABLED' as const };
            const landed = await store.replaceSubscription(expected, next);
            const matches = current !== undefined && JSON.stringify(current) === JSON.stringify(expected);
            expect(landed).toBe(matches);
            if (landed) {
              model.set(id, next);
              replaced++;
            } else refused++;
          }
        }
        const stored = await store.subscriptions();
        const byId = (a: SubscriptionRecord, b: SubscriptionRecord) =>
          a.subscription_id.localeCompare(b.subscription_id);
        expect(stored.sort(byId)).toEqual([...model.values()].sort(byId));
      }),
      { numRuns: 60 },
    );
    expect(replaced).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  });
});
