import type { SubscriptionRecord } from './subscription.ts';
import type { WebhookStore } from './webhook-store.ts';

/** Where an undo reads and writes: the store, and a compare-and-set that keeps a server's copy current. */
export interface SubscriptionWrites {
  readonly store: Pick<WebhookStore, 'subscription'>;
  replace(expected: SubscriptionRecord, next: SubscriptionRecord): Promise<boolean>;
}

/** What a dispatcher writes onto a subscription as it delivers (first attempts, `failure-counts.ts`). */
const DELIVERY_FIELDS = ['consecutive_failures', 'last_triggered_at', 'last_success_at', 'last_failure_at'];

/**
 * Undoes an update refused after its write (its tenant closed meanwhile) to the state the close's
 * cascade drives it to: as it was (`previous`), DISABLED. By compare-and-set on the record the update
 * wrote (`written`, give or take the delivery counts a dispatcher wrote onto it since), so a write made
 * meanwhile, through any server, is never overwritten: a delete stays deleted, and another update (or the
 * cascade's) stays as written, only DISABLED, since the tenant is CLOSED.
 */
export async function undoRefusedUpdate(
  writes: SubscriptionWrites,
  written: SubscriptionRecord,
  previous: SubscriptionRecord,
  updatedAt: string,
): Promise<void> {
  for (;;) {
    const stored = await writes.store.subscription(written.subscription_id);
    if (stored === undefined) return;
    const ours = withoutDeliveries(stored) === withoutDeliveries(written);
    if (!ours && stored.status === 'DISABLED') return;
    const undone: SubscriptionRecord = ours ? { ...previous, ...deliveriesOf(stored) } : { ...stored };
    undone.status = 'DISABLED';
    undone.updated_at = updatedAt;
    // Lost only to a write made since this read: read again.
    if (await writes.replace(stored, undone)) return;
  }
}

/** The record but its delivery counts, in one key order (a store may keep its fields in another). */
function withoutDeliveries(record: SubscriptionRecord): string {
  const fields = Object.entries(record).filter(([field]) => !DELIVERY_FIELDS.includes(field));
  return JSON.stringify(fields.sort(([a], [b]) => (a < b ? -1 : 1)));
}

function deliveriesOf(record: SubscriptionRecord): Partial<SubscriptionRecord> {
  return Object.fromEntries(Object.entries(record).filter(([field]) => DELIVERY_FIELDS.includes(field)));
}
