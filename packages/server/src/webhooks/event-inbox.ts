import type { ProtocolEvent } from '@cycles-guard/core/webhooks';
import type { DeliveryAttempts } from './delivery-attempts.ts';
import type { DeliveryDrafts } from './delivery-drafts.ts';
import type { WebhookPoster } from './http-post.ts';
import type { SubscriptionSet } from './subscription-set.ts';
import type { WebhookStore } from './webhook-store.ts';

/** What the inbox needs from the dispatcher. */
export interface InboxParts {
  store: WebhookStore;
  subscriptions: SubscriptionSet;
  drafts: DeliveryDrafts;
  attempts: DeliveryAttempts;
  poster: WebhookPoster;
  /** Settles once the subscriptions are loaded (or the dispatcher closed): events wait for it. */
  loading(): Promise<void>;
  loaded(): boolean;
}

/**
 * The ledger's events on their way to first attempts: queued as they happen and matched and sent on a
 * later turn of the event loop, in batches, so a reserve never waits for a webhook.
 */
export class EventInbox {
  private queued: ProtocolEvent[] = [];
  private draining = false;
  private closed = false;
  /** Time of the newest event handed to the store (the mark when nothing newer waits). */
  private lastEventMs = 0;

  constructor(private readonly parts: InboxParts) {}

  /** Opens the inbox at `nowMs` (the mark before any event came). */
  open(nowMs: number): void {
    this.lastEventMs = nowMs;
  }

  push(event: ProtocolEvent): void {
    if (this.closed || (this.parts.subscriptions.size === 0 && this.parts.loaded())) return;
    this.queued.push(event);
    this.drainSoon();
  }

  /** Drains the queued events on a later turn of the event loop, unless a drain runs already. */
  drainSoon(): void {
    if (this.queued.length > 0 && !this.draining) {
      this.draining = true;
      setImmediate(() => void this.drain());
    }
  }

  /** The inbox's part of the delivery mark: the oldest event not handed to the store, else the newest seen. */
  openSinceMs(): number {
    return this.queued.length > 0 ? Date.parse(this.queued[0]!.timestamp) : this.lastEventMs;
  }

  /** Whether events wait or are being matched. */
  get busy(): boolean {
    return this.queued.length > 0 || this.draining;
  }

  close(): void {
    this.closed = true;
  }

  private async drain(): Promise<void> {
    try {
      await this.parts.loading();
      while (this.queued.length > 0) {
        const batch = this.queued;
        this.queued = [];
        this.lastEventMs = Math.max(this.lastEventMs, Date.parse(batch.at(-1)!.timestamp));
        // One batch's POSTs to one endpoint leave in one write per connection (`WebhookPoster.batch`).
        this.parts.poster.batch(() => this.sendFirstAttempts(batch));
      }
    } finally {
      this.draining = false;
    }
  }

  /**
   * The first attempts of a batch of events, in event order. Sent at once, stored alongside: the store
   * may write the outcome alone when the attempt ends before its PENDING record was flushed (one write
   * per delivery instead of two).
   */
  private sendFirstAttempts(events: readonly ProtocolEvent[]): void {
    const { subscriptions, drafts, store, attempts } = this.parts;
    for (const event of events) {
      for (const subscription of subscriptions.selecting(event)) {
        if (subscription.status !== 'ACTIVE' || !subscriptions.receives(subscription, event)) continue;
        subscription.last_triggered_at = event.timestamp;
        const delivery = drafts.draft(subscription, event);
        store.saveDelivery(delivery).catch(() => {});
        void attempts.attempt(delivery);
      }
    }
  }
}
