import { AuthorityUnavailableError } from '@cycles-guard/core';
import type { Clock, LedgerEvents } from '@cycles-guard/core/ledger-kit';
import type { ProtocolEvent } from '@cycles-guard/core/webhooks';
import type { DeliveryRecord } from './delivery.ts';
import { DeliveryAttempts, type DeliveryOutcome } from './delivery-attempts.ts';
import { DEFAULT_MAX_BACKLOG, DeliveryBacklog } from './delivery-backlog.ts';
import { DeliveryDrafts } from './delivery-drafts.ts';
import { EventInbox } from './event-inbox.ts';
import { WebhookPoster } from './http-post.ts';
import { OrphanTakeover } from './orphan-takeover.ts';
import type { SubscriptionRecord } from './subscription.ts';
import { SubscriptionSet } from './subscription-set.ts';
import { WebhookUrlGuard } from './url-guard.ts';
import { parseWebhookSecurity } from './webhook-security.ts';
import type { WebhookStore } from './webhook-store.ts';

export type { DeliveryOutcome } from './delivery-attempts.ts';
export { webhookLifecycle } from './webhook-lifecycle.ts';

/** Options of the dispatcher. */
export interface DispatcherOptions {
  clock?: Clock;
  /** Per-attempt timeout (the spec leaves it open). Default 10,000 ms. */
  timeoutMs?: number;
  /** Where deliveries may go (default: the spec's blocked ranges, https only). */
  guard?: WebhookUrlGuard;
  /**
   * How often a shared store's subscription version is polled, so a subscription written on another
   * server reaches this one. Default 1000 ms.
   */
  refreshMs?: number;
  /** Reads the other shared webhook state (the URL policy) at load and whenever the version moves. */
  onSharedChange?: () => Promise<void>;
  /**
   * On a shared store: a server whose delivery mark is this much older is dead, and its possibly
   * unstored deliveries are resent (`delivery-marks.ts`). Its mark is written every `leaseMs / 5`.
   * Default 15,000 ms.
   */
  leaseMs?: number;
  /**
   * Unfinished deliveries (waiting for a connection, in flight or waiting for a retry) one subscription
   * may have on this server; a delivery past it is failed unsent (`delivery-backlog.ts`). Default 1,000.
   */
  maxBacklog?: number;
}

const systemClock: Clock = { now: () => Date.now() };

/**
 * Delivers a ledger's events to the subscriptions that select them, at least once: each event becomes
 * one delivery per subscription, POSTed signed, retried with the subscription's backoff, and the
 * subscription is disabled (`webhook.disabled`) once its consecutive failed attempts exceed its
 * threshold. Runs off the request path (`event-inbox.ts`), so a reserve never waits for a webhook.
 * This class runs the parts' lifecycle: the attempts (`delivery-attempts.ts`), the takeover of dead
 * servers (`orphan-takeover.ts`) and the subscriptions (`subscription-set.ts`).
 */
export class WebhookDispatcher {
  private readonly subscriptions: SubscriptionSet;
  private readonly drafts: DeliveryDrafts;
  private readonly attempts: DeliveryAttempts;
  private readonly inbox: EventInbox;
  private readonly takeover: OrphanTakeover | undefined;
  private readonly poster: WebhookPoster;
  private readonly refreshMs: number;
  private readonly leaseMs: number;
  private refresher: ReturnType<typeof setInterval> | undefined;
  private marksTimer: ReturnType<typeof setInterval> | undefined;
  /** Settles once this server's first delivery mark is stored (or it closes): events are stored after. */
  private marked: (() => void) | undefined;
  private loading: Promise<void> = Promise.resolve();
  private loaded = false;
  private closed = false;
  private unsubscribe: (() => void) | undefined;
  private readonly clock: Clock;
  /** The URL policy deliveries and subscription writes obey. */
  readonly guard: WebhookUrlGuard;

  constructor(
    private readonly events: LedgerEvents,
    readonly store: WebhookStore,
    options: DispatcherOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.guard = options.guard ?? new WebhookUrlGuard(parseWebhookSecurity({}));
    this.subscriptions = new SubscriptionSet(store, events, options.onSharedChange);
    const timeoutMs = options.timeoutMs ?? 10_000;
    this.poster = new WebhookPoster(this.guard, timeoutMs);
    this.refreshMs = options.refreshMs ?? 1000;
    this.leaseMs = options.leaseMs ?? 15_000;
    this.drafts = new DeliveryDrafts(this.clock);
    this.attempts = new DeliveryAttempts(
      store,
      events,
      this.subscriptions,
      this.poster,
      this.clock,
      new DeliveryBacklog(options.maxBacklog ?? DEFAULT_MAX_BACKLOG),
      timeoutMs,
    );
    this.inbox = new EventInbox({
      store,
      subscriptions: this.subscriptions,
      drafts: this.drafts,
      attempts: this.attempts,
      poster: this.poster,
      loading: () => this.loading,
      loaded: () => this.loaded,
    });
    const marks = store.marks;
    this.takeover =
      marks === undefined
        ? undefined
        : new OrphanTakeover(
            store,
            marks,
            events,
            this.subscriptions,
            this.drafts,
            this.attempts,
            this.leaseMs,
            () => this.closed,
          );
  }

  /**
   * Listens, then loads subscriptions and resumes deliveries left pending (a restart on a durable
   * store) in the background, retrying while the store is unreachable: a server starts (and answers
   * 503 from its ledger) whether or not Redis is up. Events that come first wait in the inbox.
   */
  start(): void {
    this.inbox.open(this.clock.now());
    if (this.store.marks !== undefined) {
      // Else a server killed before its first mark leaves stored events no mark covers: nobody resends them.
      this.events.storeAfter(
        new Promise<void>((resolve) => {
          this.marked = resolve;
        }),
      );
    }
    this.unsubscribe = this.events.subscribe((event) => this.inbox.push(event));
    this.loading = this.load();
    if (this.store.version !== undefined) {
      this.refresher = setInterval(() => void this.refresh(), this.refreshMs);
      this.refresher.unref?.();
    }
    if (this.store.marks !== undefined) {
      this.marksTimer = setInterval(() => void this.tendMarks(), this.leaseMs / 5);
      this.marksTimer.unref?.();
    }
  }

  /** Resolves once subscriptions are loaded (routes wait for it); 503 while the store is unreachable. */
  async ready(): Promise<void> {
    if (this.loaded) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const unavailable = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new AuthorityUnavailableError('Webhook subscriptions cannot be read yet: try again')),
        2000,
      );
    });
    try {
      await Promise.race([this.loading, unavailable]);
      this.loaded = true;
    } finally {
      clearTimeout(timer);
    }
  }

  private async load(): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        await this.store.marks?.start(() => ({
          sinceMs: this.inbox.openSinceMs(),
          tag: this.events.publisherTag,
        }));
        this.marked?.();
        await this.subscriptions.load();
        for (const delivery of await this.store.unfinished()) this.attempts.schedule(delivery);
        this.loaded = true;
        void this.takeover?.run();
        this.inbox.drainSoon();
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 250 * 2 ** attempt)).unref?.());
      }
    }
  }

  get(subscriptionId: string): SubscriptionRecord | undefined {
    return this.subscriptions.get(subscriptionId);
  }

  list(): SubscriptionRecord[] {
    return [...this.subscriptions.values()];
  }

  save(record: SubscriptionRecord): Promise<void> {
    return this.subscriptions.save(record);
  }

  remove(subscriptionId: string): Promise<void> {
    return this.subscriptions.remove(subscriptionId);
  }

  /** Stores `next` if the subscription is still stored as `expected` (`WebhookStore.replaceSubscription`). */
  replace(expected: SubscriptionRecord, next: SubscriptionRecord): Promise<boolean> {
    return this.subscriptions.replace(expected, next);
  }

  /** Whether a subscription receives an event: selected, in scope, past its thresholds. */
  receives(subscription: SubscriptionRecord, event: ProtocolEvent): boolean {
    return this.subscriptions.receives(subscription, event);
  }

  /** Reloads the subscriptions if another server changed them (polled every `refreshMs`). */
  async refresh(): Promise<void> {
    if (!this.closed && this.loaded) await this.subscriptions.refresh();
  }

  /**
   * Calls `listener` as each delivery attempt ends (`/metrics`): `delivered`, `retried` (failed, retry
   * scheduled), `failed` (retries exhausted), `dropped` (the subscription is paused or disabled) or
   * `overflow` (not sent: the subscription's backlog bound is reached).
   * Test probes are not counted.
   */
  onOutcome(listener: (outcome: DeliveryOutcome) => void): void {
    this.attempts.outcome = listener;
  }

  /** Queues `events` as new deliveries to one subscription (replay); returns how many were queued. */
  async replay(subscription: SubscriptionRecord, events: readonly ProtocolEvent[]): Promise<Promise<void>[]> {
    const sent: Promise<void>[] = [];
    for (const event of events) {
      if (
        subscription.status !== 'ACTIVE' ||
        this.subscriptions.get(subscription.subscription_id) === undefined
      )
        break;
      const delivery = await this.newDelivery(subscription, event);
      sent.push(this.attempts.attempt(delivery));
    }
    return sent;
  }

  /**
   * The GOV test probe: one attempt of `event` (a `system.webhook_test`), whatever the subscription's
   * status, recorded as a delivery; no retry, and neither the failure count nor the status changes.
   */
  async probe(subscription: SubscriptionRecord, event: ProtocolEvent): Promise<DeliveryRecord> {
    const delivery = await this.newDelivery(subscription, event);
    await this.attempts.probe(subscription, delivery);
    return delivery;
  }

  /**
   * Stops listening and retrying; waits for attempts in flight, at most one attempt timeout, then drops
   * the connections (POSTs still queued are not sent). Pending deliveries stay in the store.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.inbox.close();
    this.marked?.();
    this.unsubscribe?.();
    clearInterval(this.refresher);
    clearInterval(this.marksTimer);
    await this.attempts.close();
    this.poster.close();
    await this.store.marks?.retire().catch(() => {});
  }

  /** Settles when every attempt started so far has finished (tests, benchmarks). */
  async idle(): Promise<void> {
    while (this.attempts.busy || this.inbox.busy) {
      await this.attempts.settled();
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** The heartbeat: writes this server's mark, then resends the windows of servers that stopped. */
  private async tendMarks(): Promise<void> {
    if (this.closed || !this.loaded) return;
    await this.store.marks?.beat(this.leaseMs / 5).catch(() => {});
    await this.takeover?.run();
  }

  private async newDelivery(subscription: SubscriptionRecord, event: ProtocolEvent): Promise<DeliveryRecord> {
    const delivery = this.drafts.draft(subscription, event);
    await this.store.saveDelivery(delivery);
    return delivery;
  }
}
