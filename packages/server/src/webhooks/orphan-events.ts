import type { LedgerEvents } from '@cycles-guard/core/ledger-kit';
import type { ProtocolEvent } from '@cycles-guard/core/webhooks';
import { type OrphanedMark, publishedBy } from './delivery-marks.ts';
import type { SubscriptionRecord } from './subscription.ts';

/** A clock step back on the dead server may stamp an event just before its mark: scan a little earlier. */
const CLOCK_SLACK_MS = 1000;

/** What the resend of a dead server's window needs from the dispatcher. */
export interface OrphanScan {
  events: LedgerEvents;
  /** The subscriptions to resend to (the active ones). */
  subscriptions: readonly SubscriptionRecord[];
  receives(subscription: SubscriptionRecord, event: ProtocolEvent): boolean;
  deliveredEvents(subscriptionId: string): Promise<Set<string>>;
}

/**
 * The events a dead server published from its mark on (in time order, a page at a time) that each
 * subscription receives and has no stored delivery of: what it may have sent unrecorded. Events older
 * than a subscription are left out. A mark without a tag (written by an older version) takes every
 * server's events from the mark on: a live server's may arrive twice, none is lost.
 */
export async function* orphanedDeliveries(
  scan: OrphanScan,
  mark: OrphanedMark,
): AsyncGenerator<[SubscriptionRecord, ProtocolEvent][]> {
  const tag = mark.tag;
  if (scan.subscriptions.length === 0) return;
  const delivered = new Map<string, Set<string>>();
  let cursor: string | undefined;
  do {
    const page = await scan.events.list({
      sortDir: 'asc',
      limit: 100,
      fromMs: mark.fromMs - CLOCK_SLACK_MS,
      ...(cursor === undefined ? {} : { cursor }),
    });
    const found: [SubscriptionRecord, ProtocolEvent][] = [];
    for (const event of page.events) {
      if (tag !== undefined && !publishedBy(event, tag)) continue;
      for (const subscription of scan.subscriptions) {
        if (event.timestamp < subscription.created_at || !scan.receives(subscription, event)) continue;
        let ids = delivered.get(subscription.subscription_id);
        if (ids === undefined) {
          ids = await scan.deliveredEvents(subscription.subscription_id);
          delivered.set(subscription.subscription_id, ids);
        }
        if (ids.has(event.event_id)) continue;
        ids.add(event.event_id);
        found.push([subscription, event]);
      }
    }
    if (found.length > 0) yield found;
    cursor = page.hasMore ? page.nextCursor : undefined;
  } while (cursor !== undefined);
}
