import { categoryOf, EVENT_CATEGORIES, EVENT_TYPES, LedgerEventLog } from '@cycles-guard/core/ledger-kit';
import type { EventType, ProtocolEvent } from '@cycles-guard/core/webhooks';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SubscriptionRecord } from './subscription.ts';
import { SubscriptionSet } from './subscription-set.ts';
import { MemoryWebhookStore } from './webhook-store.ts';

// The dispatcher matches an event against `selecting(event)`, an index by event type and category, not
// every subscription: it must hand the dispatcher exactly the subscriptions a pass over all of them
// would, in the same order, whatever was created, changed, paused or removed before (the index is
// rebuilt after each change).

const types = fc.constantFrom(...(EVENT_TYPES as readonly EventType[]));
const categories = fc.constantFrom(...EVENT_CATEGORIES);

const change = fc.oneof(
  fc.record({
    kind: fc.constant('save' as const),
    id: fc.integer({ min: 0, max: 5 }),
    tenant: fc.constantFrom('acme', 'other', '__system__'),
    eventTypes: fc.uniqueArray(types, { minLength: 1, maxLength: 4 }),
    eventCategories: fc.option(fc.uniqueArray(categories, { maxLength: 2 }), { nil: undefined }),
    status: fc.constantFrom<SubscriptionRecord['status']>('ACTIVE', 'PAUSED', 'DISABLED'),
  }),
  fc.record({ kind: fc.constant('remove' as const), id: fc.integer({ min: 0, max: 5 }) }),
);

function event(type: EventType, tenant: string): ProtocolEvent {
  return {
    event_id: `evt_${type}`,
    event_type: type,
    category: categoryOf(type),
    timestamp: '2026-12-07T13:00:00.000Z',
    tenant_id: tenant,
    source: 'cycles-guard',
    data: {},
  };
}

describe('SubscriptionSet.selecting', () => {
  it('gives the subscriptions a pass over all of them selects, in order, after any changes', async () => {
    let matched = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(change, fc.array(fc.tuple(types, fc.constantFrom('acme', 'other')), { maxLength: 4 })),
        ),
        async (steps) => {
          const set = new SubscriptionSet(new MemoryWebhookStore(), new LedgerEventLog());
          for (const [step, events] of steps) {
            if (step.kind === 'remove') await set.remove(`whsub_${step.id}`);
            else {
              const record = {
                subscription_id: `whsub_${step.id}`,
                tenant_id: step.tenant,
                url: 'https://hooks.example.com/x',
                event_types: step.eventTypes,
                signing_secret: 'whsec_0123456789abcdef',
                status: step.status,
                retry_policy: {
                  max_retries: 5,
                  initial_delay_ms: 1000,
                  backoff_multiplier: 2,
                  max_delay_ms: 60_000,
                },
                disable_after_failures: 10,
                consecutive_failures: 0,
                created_at: '2026-12-07T12:00:00.000Z',
              } as SubscriptionRecord;
              if (step.eventCategories !== undefined) record.event_categories = step.eventCategories;
              await set.save(record);
            }
            for (const [type, tenant] of events) {
              const raised = event(type, tenant);
              const everyOne = [...set.values()].filter((subscription) => set.receives(subscription, raised));
              const indexed = set
                .selecting(raised)
                .filter((subscription) => set.receives(subscription, raised));
              expect(indexed).toEqual(everyOne);
              matched += everyOne.length;
              // Asked twice (from the index the first call built): the same.
              expect(set.selecting(raised).filter((s) => set.receives(s, raised))).toEqual(everyOne);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
    expect(matched).toBeGreaterThan(100); // the runs did match events, not only refuse them
  });
});
