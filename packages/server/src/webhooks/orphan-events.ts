import type { LedgerEvents } from '@cycles-guard/core/ledger-kit';
import type { ProtocolEvent } from '@cycles-guard/core/webhooks';
import type { DeliveryRecord } from './delivery.ts';
import { type OrphanedMark, publishedBy, type StoredDeliveries } from './delivery-marks.ts';
import type { SubscriptionRecord } from './subscription.ts';

/** A clock step back on the dead server may stamp an event just before its mark: scan a little earlier. */
const CLOCK_SLACK_MS = 1000;

/** What the resend of a dead server's window needs from the dispatcher. */
export interface OrphanScan {
  events: LedgerEvents;
  /** The subscriptions to resend to (the active ones). */
  subscriptions: readonly SubscriptionRecord[];
  receives(subscription: SubscriptionRecord, event: ProtocolEvent): boolean;
  storedDeliveries(subscriptionId: string): Promise<StoredDeliveries>;
}

/** A delivery to send again: a new one of `event`, or a stranded stored one, resumed as it is. */
export interface OrphanedDelivery {
  subscription: SubscriptionRecord;
  event: ProtocolEvent;
  stranded?: DeliveryRecord;
}

/**
 * The events a dead server published from its mark on (in time order, a page at a time) that each
 * subscription receives and has no stored delivery of (what it may have sent unrecorded), or only a
 * stranded one (`StoredDeliveries.stranded`), which is resumed instead. Events older than a
 * subscription are left out. A mark without a tag (written by an older version) takes every server's
 * events from the mark on: a live server's may arrive twice, none is lost.
 */
export async function* orphanedDeliveries(
  scan: OrphanScan,
  mark: OrphanedMark,
): AsyncGenerator<OrphanedDelivery[]> {
  const tag = mark.tag;
  if (scan.subscriptions.length === 0) return;
  const storedOf = new Map<string, StoredDeliveries>();
  let cursor: string | undefined;
  do {
    const page = await scan.events.list({
      sortDir: 'asc',
      limit: 100,
      fromMs: mark.fromMs - CLOCK_SLACK_MS,
      ...(cursor === undefined ? {} : { cursor }),
    });
    const found: OrphanedDelivery[] = [];
    for (const event of page.events) {
      if (tag !== undefined && !publishedBy(event, tag)) continue;
      for (const subscription of scan.subscriptions) {
        if (event.timestamp < subscription.created_at || !scan.receives(subscription, event)) continue;
        let stored = storedOf.get(subscription.subscription_id);
        if (stored === undefined) {
          stored = await scan.storedDeliveries(subscription.subscription_id);
          storedOf.set(subscription.subscription_id, stored);
        }
        const stranded = stored.stranded.get(event.event_id);
        if (stranded !== undefined) {
          stored.stranded.delete(event.event_id);
          found.push({ subscription, event, stranded });
        } else if (!stored.events.has(event.event_id)) {
          stored.events.add(event.event_id);
          found.push({ subscription, event });
        }
      }
    }
    if (found.length > 0) yield found;
    cursor = page.hasMore ? page.nextCursor : undefined;
  } while (cursor !== undefined);
}
