import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DeliveryRecord } from './delivery.ts';
import { DeliveryBacklog } from './delivery-backlog.ts';

// Random admit / hold / release sequences over a few subscriptions, checked against a model (a set of
// held ids per subscription): admit refuses exactly when the subscription holds `max` others, hold
// never refuses, a release frees a slot, and what is held is what the model holds.

const delivery = (subscription: number, id: number) =>
  ({ subscription_id: `whsub_${subscription}`, delivery_id: `whdel_${id}` }) as DeliveryRecord;

const operation = fc.record({
  kind: fc.constantFrom('admit', 'admit', 'hold', 'release'),
  subscription: fc.integer({ min: 0, max: 2 }),
  id: fc.integer({ min: 0, max: 30 }),
});

describe('DeliveryBacklog', () => {
  it('admits past no bound, holds resumed deliveries, frees slots on release (model-based)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(operation, { maxLength: 200 }),
        (max, operations) => {
          const backlog = new DeliveryBacklog(max);
          const model = new Map<string, Set<string>>();
          for (const { kind, subscription, id } of operations) {
            const record = delivery(subscription, id);
            const held = model.get(record.subscription_id) ?? new Set<string>();
            model.set(record.subscription_id, held);
            if (kind === 'admit') {
              const fits = held.has(record.delivery_id) || held.size < max;
              expect(backlog.admit(record)).toBe(fits);
              if (fits) held.add(record.delivery_id);
            } else if (kind === 'hold') {
              backlog.hold(record);
              held.add(record.delivery_id);
            } else {
              backlog.release(record);
              held.delete(record.delivery_id);
            }
            for (const [subscriptionId, ids] of model) expect(backlog.size(subscriptionId)).toBe(ids.size);
          }
        },
      ),
    );
  });
});
