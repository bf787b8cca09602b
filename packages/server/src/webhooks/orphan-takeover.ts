import type { LedgerEvents } from '@cycles-guard/core/ledger-kit';
import type { ProtocolEvent } from '@cycles-guard/core/webhooks';
import type { DeliveryAttempts } from './delivery-attempts.ts';
import type { DeliveryDrafts } from './delivery-drafts.ts';
import { type DeliveryMarks, type OrphanedMark, publishedBy } from './delivery-marks.ts';
import { orphanedDeliveries } from './orphan-events.ts';
import type { SubscriptionRecord } from './subscription.ts';
import type { SubscriptionSet } from './subscription-set.ts';
import type { WebhookStore } from './webhook-store.ts';

/**
 * Takes over from dead servers: resumes the unfinished deliveries of their events (which a server
 * otherwise resumes only when it starts), resends what they may have sent without a stored record and
 * resumes their stranded records (`orphan-events.ts`), each stored (in the pending set) before it is
 * sent, so a crash here leaves it covered; then removes their marks. Duplicates are possible, losses
 * are not.
 */
export class OrphanTakeover {
  private running = false;

  constructor(
    private readonly store: WebhookStore,
    private readonly marks: DeliveryMarks,
    private readonly events: LedgerEvents,
    private readonly subscriptions: SubscriptionSet,
    private readonly drafts: DeliveryDrafts,
    private readonly attempts: DeliveryAttempts,
    private readonly leaseMs: number,
    private readonly closed: () => boolean,
  ) {}

  /** One pass over the marks not written for a lease (one pass at a time). */
  async run(): Promise<void> {
    if (this.running || this.closed()) return;
    this.running = true;
    try {
      for (const mark of await this.marks.orphans(this.leaseMs)) {
        if (!(await this.takeOver(mark))) return;
      }
    } catch {
      // Redis unreachable or the scan failed: the next heartbeat tries again.
    } finally {
      this.running = false;
    }
  }

  /** Resumes and resends one dead server's window, then removes its mark; false if closed meanwhile. */
  private async takeOver(mark: OrphanedMark): Promise<boolean> {
    if (mark.tag !== undefined) {
      const tag = mark.tag;
      for (const delivery of await this.store.unfinished()) {
        if (publishedBy(delivery.event, tag) && !this.attempts.scheduled(delivery.delivery_id))
          this.attempts.schedule(delivery);
      }
    }
    const scan = {
      events: this.events,
      subscriptions: [...this.subscriptions.values()].filter(
        (subscription) => subscription.status === 'ACTIVE',
      ),
      receives: (subscription: SubscriptionRecord, event: ProtocolEvent) =>
        this.subscriptions.receives(subscription, event),
      storedDeliveries: (subscriptionId: string) => this.marks.storedDeliveries(subscriptionId),
    };
    for await (const page of orphanedDeliveries(scan, mark)) {
      if (this.closed()) return false;
      const deliveries = page.map(
        ({ subscription, event, stranded }) => stranded ?? this.drafts.draft(subscription, event),
      );
      await Promise.all(deliveries.map((delivery) => this.store.saveDelivery(delivery)));
      for (const delivery of deliveries) void this.attempts.attempt(delivery);
    }
    await this.marks.release(mark);
    return true;
  }
}
