import { randomBytes } from 'node:crypto';
import { AuthorityUnavailableError } from '@cycles-guard/core';
import {
  type Clock,
  type EventDraft,
  type LedgerEvents,
  retryDelayMs,
  SYSTEM_TENANT,
  webhookRequest,
} from '@cycles-guard/core/ledger-kit';
import { eventJson, type ProtocolEvent } from '@cycles-guard/core/webhooks';
import type { DeliveryRecord } from './delivery.ts';
import { type OpenDeliveries, publishedBy } from './delivery-marks.ts';
import { WebhookPoster } from './http-post.ts';
import { orphanedDeliveries } from './orphan-events.ts';
import type { SubscriptionRecord } from './subscription.ts';
import { SubscriptionSet } from './subscription-set.ts';
import { WebhookUrlGuard } from './url-guard.ts';
import { parseWebhookSecurity } from './webhook-security.ts';
import type { WebhookStore } from './webhook-store.ts';

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
}

/** How a delivery attempt ended, as counted on `/metrics`. */
export type DeliveryOutcome = 'delivered' | 'retried' | 'failed' | 'dropped';

const systemClock: Clock = { now: () => Date.now() };

/**
 * Delivers a ledger's events to the subscriptions that select them, at least once: each event becomes
 * one delivery per subscription, POSTed signed, retried with the subscription's backoff, and the
 * subscription is disabled (`webhook.disabled`) once its consecutive failed attempts exceed its
 * threshold. Runs off the request path: events are only queued when they happen and matched and sent
 * on a later turn of the event loop, so a reserve never waits for a webhook.
 */
export class WebhookDispatcher {
  private readonly subscriptions: SubscriptionSet;
  private refresher: ReturnType<typeof setInterval> | undefined;
  private readonly refreshMs: number;
  private readonly leaseMs: number;
  private marksTimer: ReturnType<typeof setInterval> | undefined;
  private recovering = false;
  /** Time of the newest event handed to the store (the mark when nothing newer waits). */
  private lastEventMs = 0;
  /** Settles once this server's first delivery mark is stored (or it closes): events are stored after. */
  private marked: (() => void) | undefined;
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly inFlight = new Set<Promise<void>>();
  private inbox: ProtocolEvent[] = [];
  private draining = false;
  private closed = false;
  private unsubscribe: (() => void) | undefined;
  private readonly clock: Clock;
  private readonly poster: WebhookPoster;
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
    this.poster = new WebhookPoster(this.guard, options.timeoutMs ?? 10_000);
    this.refreshMs = options.refreshMs ?? 1000;
    this.leaseMs = options.leaseMs ?? 15_000;
  }

  /**
   * Listens, then loads subscriptions and resumes deliveries left pending (a restart on a durable
   * store) in the background, retrying while the store is unreachable: a server starts (and answers
   * 503 from its ledger) whether or not Redis is up. Events that come first wait in the inbox.
   */
  start(): void {
    this.lastEventMs = this.clock.now();
    if (this.store.marks !== undefined) {
      // Else a server killed before its first mark leaves stored events no mark covers: nobody resends them.
      this.events.storeAfter(
        new Promise<void>((resolve) => {
          this.marked = resolve;
        }),
      );
    }
    this.unsubscribe = this.events.subscribe((event) => this.enqueue(event));
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

  private loading: Promise<void> = Promise.resolve();

  private async load(): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        await this.store.marks?.start(() => this.openDeliveries());
        this.marked?.();
        await this.subscriptions.load();
        for (const delivery of await this.store.unfinished()) this.schedule(delivery);
        this.loaded = true;
        void this.recoverOrphans();
        if (this.inbox.length > 0 && !this.draining) {
          this.draining = true;
          setImmediate(() => void this.drain());
        }
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

  private outcome: (outcome: DeliveryOutcome) => void = () => {};

  /**
   * Calls `listener` as each delivery attempt ends (`/metrics`): `delivered`, `retried` (failed, retry
   * scheduled), `failed` (retries exhausted) or `dropped` (the subscription is paused or disabled).
   * Test probes are not counted.
   */
  onOutcome(listener: (outcome: DeliveryOutcome) => void): void {
    this.outcome = listener;
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
      sent.push(this.attempt(delivery));
    }
    return sent;
  }

  /** Stops listening and retrying; waits for attempts in flight. Pending deliveries stay in the store. */
  async close(): Promise<void> {
    this.closed = true;
    this.marked?.();
    this.unsubscribe?.();
    clearInterval(this.refresher);
    clearInterval(this.marksTimer);
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.inFlight]);
    this.poster.close();
    await this.store.marks?.retire().catch(() => {});
  }

  /** The dispatcher's part of its mark: the oldest event not handed to the store, else the newest seen. */
  private openDeliveries(): OpenDeliveries {
    const sinceMs = this.inbox.length > 0 ? Date.parse(this.inbox[0]!.timestamp) : this.lastEventMs;
    return { sinceMs, tag: this.events.publisherTag };
  }

  /** The heartbeat: writes this server's mark, then resends the windows of servers that stopped. */
  private async tendMarks(): Promise<void> {
    if (this.closed || !this.loaded) return;
    await this.store.marks?.beat(this.leaseMs / 5).catch(() => {});
    await this.recoverOrphans();
  }

  /**
   * Takes over from dead servers: resumes the unfinished deliveries of their events (which a server
   * otherwise resumes only when it starts), resends what they may have sent without a stored record and
   * resumes their stranded records (`orphan-events.ts`), each stored (in the pending set) before it is
   * sent, so a crash here leaves it covered; then removes their marks. Duplicates are possible, losses
   * are not.
   */
  private async recoverOrphans(): Promise<void> {
    const marks = this.store.marks;
    if (marks === undefined || this.recovering || this.closed) return;
    this.recovering = true;
    try {
      for (const mark of await marks.orphans(this.leaseMs)) {
        if (mark.tag !== undefined) {
          const tag = mark.tag;
          for (const delivery of await this.store.unfinished()) {
            if (publishedBy(delivery.event, tag) && !this.timers.has(delivery.delivery_id))
              this.schedule(delivery);
          }
        }
        const scan = {
          events: this.events,
          subscriptions: this.list().filter((subscription) => subscription.status === 'ACTIVE'),
          receives: (subscription: SubscriptionRecord, event: ProtocolEvent) =>
            this.receives(subscription, event),
          storedDeliveries: (subscriptionId: string) => marks.storedDeliveries(subscriptionId),
        };
        for await (const page of orphanedDeliveries(scan, mark)) {
          if (this.closed) return;
          const deliveries = page.map(
            ({ subscription, event, stranded }) => stranded ?? this.draftDelivery(subscription, event),
          );
          await Promise.all(deliveries.map((delivery) => this.store.saveDelivery(delivery)));
          for (const delivery of deliveries) void this.attempt(delivery);
        }
        await marks.release(mark);
      }
    } catch {
      // Redis unreachable or the scan failed: the next heartbeat tries again.
    } finally {
      this.recovering = false;
    }
  }

  /** Settles when every attempt started so far has finished (tests, benchmarks). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0 || this.inbox.length > 0 || this.draining) {
      await Promise.allSettled([...this.inFlight]);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private enqueue(event: ProtocolEvent): void {
    if (this.closed || (this.subscriptions.size === 0 && this.loaded)) return;
    this.inbox.push(event);
    if (!this.draining) {
      this.draining = true;
      setImmediate(() => void this.drain());
    }
  }

  private loaded = false;

  private async drain(): Promise<void> {
    try {
      await this.loading;
      this.loaded = true;
      while (this.inbox.length > 0) {
        const batch = this.inbox;
        this.inbox = [];
        this.lastEventMs = Math.max(this.lastEventMs, Date.parse(batch.at(-1)!.timestamp));
        // One batch's POSTs to one endpoint leave in one write per connection (`WebhookPoster.batch`).
        this.poster.batch(() => this.sendFirstAttempts(batch));
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
    for (const event of events) {
      for (const subscription of this.subscriptions.selecting(event)) {
        if (subscription.status !== 'ACTIVE' || !this.receives(subscription, event)) continue;
        subscription.last_triggered_at = event.timestamp;
        const delivery = this.draftDelivery(subscription, event);
        this.store.saveDelivery(delivery).catch(() => {});
        void this.attempt(delivery);
      }
    }
  }

  private async newDelivery(subscription: SubscriptionRecord, event: ProtocolEvent): Promise<DeliveryRecord> {
    const delivery = this.draftDelivery(subscription, event);
    await this.store.saveDelivery(delivery);
    return delivery;
  }

  /** A new PENDING delivery of `event` to `subscription`, not stored yet. */
  private draftDelivery(subscription: SubscriptionRecord, event: ProtocolEvent): DeliveryRecord {
    const now = this.clock.now();
    const delivery: DeliveryRecord = {
      delivery_id: this.nextDeliveryId(),
      subscription_id: subscription.subscription_id,
      event_id: event.event_id,
      event_type: event.event_type,
      status: 'PENDING',
      attempted_at: new Date(now).toISOString(),
      attempts: 0,
      sequence: this.nextSequence(now),
      createdMs: now,
      dueMs: now,
      event,
    };
    if (event.trace_id !== undefined) {
      delivery.trace_id = event.trace_id;
      delivery.trace_flags = '01';
    }
    return delivery;
  }

  /** Random per dispatcher, so ids from other servers and earlier runs never collide. */
  private readonly idPrefix = `whdel_${randomBytes(6).toString('hex')}`;
  private deliveries = 0;

  /** A unique delivery id: the instance's random prefix and a counter (20 hex digits until 2^32). */
  private nextDeliveryId(): string {
    return `${this.idPrefix}${(this.deliveries++).toString(16).padStart(8, '0')}`;
  }

  private lastSequence = 0;

  /** Increasing per instance, and by time across instances (µs since the epoch): orders the listing. */
  private nextSequence(now: number): number {
    this.lastSequence = Math.max(this.lastSequence + 1, now * 1000);
    return this.lastSequence;
  }

  private schedule(delivery: DeliveryRecord): void {
    if (this.closed) return;
    const wait = Math.max(0, delivery.dueMs - this.clock.now());
    const timer = setTimeout(() => {
      this.timers.delete(delivery.delivery_id);
      void this.attempt(delivery);
    }, wait);
    timer.unref?.();
    this.timers.set(delivery.delivery_id, timer);
  }

  private attempt(delivery: DeliveryRecord): Promise<void> {
    return this.track(this.post(delivery));
  }

  /** Keeps a delivery step in the in-flight set until it settles (close and idle wait for them). */
  private track(work: Promise<void>): Promise<void> {
    const running = work.catch(() => {}).finally(() => this.inFlight.delete(running));
    this.inFlight.add(running);
    return running;
  }

  private async post(delivery: DeliveryRecord): Promise<void> {
    const subscription = this.subscriptions.get(delivery.subscription_id);
    if (subscription === undefined) return;
    if (subscription.status !== 'ACTIVE') {
      // Paused or disabled: events are dropped, not queued (GOV), and so are retries still pending.
      this.outcome('dropped');
      await this.finish(delivery, 'FAILED', `subscription is ${subscription.status}`);
      return;
    }
    const { error } = await this.send(subscription, delivery);
    if (error === undefined) {
      // Stored only when a failure streak ends: a success per delivery would cost a write per event.
      const streak = subscription.consecutive_failures > 0;
      subscription.consecutive_failures = 0;
      subscription.last_success_at = delivery.attempted_at;
      this.outcome('delivered');
      await this.finish(delivery, 'SUCCESS');
      if (streak) await this.saveCounters(subscription).catch(() => {});
      return;
    }
    subscription.consecutive_failures++;
    subscription.last_failure_at = delivery.attempted_at;
    if (subscription.consecutive_failures > subscription.disable_after_failures)
      await this.disable(subscription);
    // Best effort while the store is unreachable: the retry below must not be lost with the counters.
    await this.saveCounters(subscription).catch(() => {});
    if (delivery.attempts > subscription.retry_policy.max_retries || subscription.status !== 'ACTIVE') {
      this.outcome('failed');
      await this.finish(delivery, 'FAILED', error);
      this.events.publish([
        {
          type: 'system.webhook_delivery_failed',
          tenant: SYSTEM_TENANT,
          correlationId: delivery.event_id,
          data: {
            component: 'webhook_dispatcher',
            message: `delivery ${delivery.delivery_id} of ${delivery.event_id} to ${subscription.subscription_id} failed after ${delivery.attempts} attempts: ${error}`,
          },
        },
      ]);
      return;
    }
    const policy = subscription.retry_policy;
    const delay = retryDelayMs(
      {
        maxRetries: policy.max_retries,
        initialDelayMs: policy.initial_delay_ms,
        backoffMultiplier: policy.backoff_multiplier,
        maxDelayMs: policy.max_delay_ms,
      },
      delivery.attempts,
    );
    this.outcome('retried');
    delivery.status = 'RETRYING';
    delivery.error_message = error;
    delivery.dueMs = this.clock.now() + delay;
    delivery.next_retry_at = new Date(delivery.dueMs).toISOString();
    this.schedule(delivery);
    // A write the store could not make stays queued there and is tried again: the retry does not wait.
    await this.store.saveDelivery(delivery).catch(() => {});
  }

  /**
   * Writes a delivery's counters (and an auto-disable) onto the subscription as stored now, by
   * compare-and-set: this server's copy may be older than a write made meanwhile (a tenant close that
   * disabled it, an update through another server), which writing the copy back would undo. The copy
   * then takes the stored state. Gives up after a few lost races (the next failure writes again).
   */
  private async saveCounters(subscription: SubscriptionRecord): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const stored = await this.store.subscription(subscription.subscription_id);
      if (stored === undefined) return;
      const next: SubscriptionRecord = {
        ...stored,
        consecutive_failures: subscription.consecutive_failures,
      };
      if (subscription.last_success_at !== undefined) next.last_success_at = subscription.last_success_at;
      if (subscription.last_failure_at !== undefined) next.last_failure_at = subscription.last_failure_at;
      if (subscription.status === 'DISABLED' && stored.status !== 'DISABLED') {
        next.status = 'DISABLED';
        next.updated_at = subscription.updated_at;
      }
      if (!(await this.store.replaceSubscription(stored, next))) continue;
      // In place: deliveries in flight hold this object and count on it.
      const statusChanged = subscription.status !== next.status;
      Object.assign(subscription, next);
      if (statusChanged) this.subscriptions.changed();
      return;
    }
  }

  /** One signed POST of the delivery's event; the attempt is recorded on the delivery (not stored). */
  private async send(
    subscription: SubscriptionRecord,
    delivery: DeliveryRecord,
  ): Promise<{ status?: number; error?: string }> {
    const request = webhookRequest(
      delivery.event,
      subscription.signing_secret,
      subscription.headers,
      delivery.trace_flags,
      eventJson(delivery.event),
    );
    const started = performance.now();
    let status: number | undefined;
    let error: string | undefined;
    try {
      status = await this.poster.post(subscription.url, request.body, request.headers);
      if (status < 200 || status > 299) error = `HTTP ${status}`;
    } catch (caught) {
      error = caught instanceof Error ? caught.message : String(caught);
    }
    delivery.attempts++;
    delivery.attempted_at = new Date(this.clock.now()).toISOString();
    delivery.response_time_ms = Math.round(performance.now() - started);
    if (status === undefined) delete delivery.response_status;
    else delivery.response_status = status;
    return status === undefined ? { error: error! } : error === undefined ? { status } : { status, error };
  }

  /**
   * The GOV test probe: one attempt of `event` (a `system.webhook_test`), whatever the subscription's
   * status, recorded as a delivery; no retry, and neither the failure count nor the status changes.
   */
  async probe(subscription: SubscriptionRecord, event: ProtocolEvent): Promise<DeliveryRecord> {
    const delivery = await this.newDelivery(subscription, event);
    const { error } = await this.send(subscription, delivery);
    await this.finish(delivery, error === undefined ? 'SUCCESS' : 'FAILED', error);
    return delivery;
  }

  private async finish(
    delivery: DeliveryRecord,
    status: 'SUCCESS' | 'FAILED',
    error?: string,
  ): Promise<void> {
    delivery.status = status;
    delivery.completed_at = new Date(this.clock.now()).toISOString();
    delete delivery.next_retry_at;
    if (error === undefined) delete delivery.error_message;
    else delivery.error_message = error.slice(0, 512);
    await this.store.saveDelivery(delivery);
  }

  private async disable(subscription: SubscriptionRecord): Promise<void> {
    if (subscription.status === 'DISABLED') return;
    const previous = subscription.status;
    subscription.status = 'DISABLED';
    this.subscriptions.changed();
    subscription.updated_at = new Date(this.clock.now()).toISOString();
    this.events.publish([
      webhookLifecycle(
        'webhook.disabled',
        subscription,
        previous,
        {
          disable_reason: 'consecutive_failures_exceeded_threshold',
        },
        `webhook_auto_disable:${subscription.subscription_id}:${subscription.last_failure_at ?? ''}`,
      ),
    ]);
  }
}

/** A `webhook.*` event (GOV `EventDataWebhookLifecycle`), kept under `__system__`: tenants never list them. */
export function webhookLifecycle(
  type:
    | 'webhook.created'
    | 'webhook.updated'
    | 'webhook.paused'
    | 'webhook.resumed'
    | 'webhook.disabled'
    | 'webhook.deleted',
  subscription: SubscriptionRecord,
  previous: SubscriptionRecord['status'] | undefined,
  extra: Record<string, unknown> = {},
  correlationId?: string,
): EventDraft {
  const data: Record<string, unknown> = {
    subscription_id: subscription.subscription_id,
    tenant_id: subscription.tenant_id,
    ...extra,
  };
  if (previous !== undefined) data.previous_status = previous;
  if (type !== 'webhook.deleted') data.new_status = subscription.status;
  const draft: EventDraft = { type, tenant: SYSTEM_TENANT, data };
  if (correlationId !== undefined) draft.correlationId = correlationId;
  return draft;
}
