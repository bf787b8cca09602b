import { type Clock, systemClock } from '../../clock.ts';
import { invalid } from '../../protocol/errors.ts';
import { matchesPattern, normalizePattern } from '../templates.ts';
import { DEFAULT_THRESHOLDS } from './balance-events.ts';
import { BurnRates, type BurnSpend, type BurnState, burnSettings } from './burn-rate.ts';
import { type EventPage, type EventQuery, validateEventQuery } from './event-query.ts';
import type { EventStore } from './event-store.ts';
import {
  categoryOf,
  type EventDraft,
  type EventOrigin,
  type ProtocolEvent,
  SYSTEM_TENANT,
} from './event-types.ts';
import type { LedgerEvents, LedgerEventsOptions, ProtocolEventListener } from './ledger-events-types.ts';
import { MemoryEventStore } from './memory-event-store.ts';
import { type RateSpikeOptions, RateSpikes, rateSettings } from './rate-spikes.ts';

export type {
  LedgerEvents,
  LedgerEventsOptions,
  ProtocolEventListener,
  ThresholdRule,
} from './ledger-events-types.ts';

/**
 * Where a ledger's rate samples and hits go instead of the log's own per-process windows: a server that
 * counts them for all its instances (in Redis) and publishes the spikes itself.
 */
export interface RateCounter {
  /** One sample of a tenant's rate (`denial_rate`: a reserve tried; `expiry_rate`: a hold granted). */
  sample(metric: 'denial_rate' | 'expiry_rate', tenant: string | undefined): void;
  /** One hit (a denial, which is a sample too; an expiry, which is not). */
  hit(metric: 'denial_rate' | 'expiry_rate', tenant: string | undefined): void;
  /**
   * A scope's spend, for the burn rate (absent: the log's own windows count it). `spend` is reused by the
   * caller: read it now, keep none of it.
   */
  spent?(spend: BurnSpend): void;
}

function checkThresholds(field: string, thresholds: readonly number[]): number[] {
  if (!Array.isArray(thresholds) || thresholds.some((t) => typeof t !== 'number' || !(t > 0 && t <= 1))) {
    throw invalid(field, 'must be an array of numbers in (0, 1]', 'use utilizations such as [0.8, 0.95]');
  }
  return [...new Set(thresholds)].sort((a, b) => a - b);
}

/**
 * The one event pipeline every ledger uses: stamps drafts (id, time, source, request ids), stores them,
 * announces them to listeners, and holds the derivation settings (thresholds, denial-rate spike).
 */
export class LedgerEventLog implements LedgerEvents {
  readonly store: EventStore;
  private readonly listeners = new Set<ProtocolEventListener>();
  private readonly thresholds: readonly number[];
  private readonly rules: { pattern: string; thresholds: number[] }[];
  private readonly source: string;
  readonly publisherTag = Math.random().toString(36).slice(2, 8).padEnd(6, '0');
  /** Set while `storeAfter`'s promise is pending: appends wait for it. */
  private storing: Promise<unknown> | undefined;
  private counter = 0;
  private readonly denials: RateSpikes;
  private readonly expiries: RateSpikes;
  /** The burn-rate anomaly's per-scope windows (undefined with `burnRate: false`). */
  readonly burn: BurnRates | undefined;

  constructor(
    options: LedgerEventsOptions = {},
    private readonly clock: Clock = systemClock,
  ) {
    this.thresholds = checkThresholds('thresholds', options.thresholds ?? [...DEFAULT_THRESHOLDS]);
    this.rules = (options.thresholdRules ?? []).map((rule, index) => {
      if (typeof rule?.pattern !== 'string' || rule.pattern === '') {
        throw invalid(
          `thresholdRules[${index}].pattern`,
          'must be a scope or template pattern',
          'e.g. tenant:*',
        );
      }
      return {
        pattern: normalizePattern(rule.pattern),
        thresholds: checkThresholds(`thresholdRules[${index}].thresholds`, rule.thresholds),
      };
    });
    this.store = options.store ?? new MemoryEventStore({ clock });
    this.source = options.source ?? 'cycles-guard';
    this.denials = new RateSpikes(
      'denial_rate',
      'reservation.denial_rate_spike',
      rateSettings('denialRate', options.denialRate, 0.1),
      clock,
    );
    this.expiries = new RateSpikes(
      'expiry_rate',
      'reservation.expiry_rate_spike',
      rateSettings('expiryRate', options.expiryRate, 0.05),
      clock,
    );
    this.burn = options.burnRate === false ? undefined : new BurnRates(burnSettings(options.burnRate), clock);
    if (options.onEvent !== undefined) this.listeners.add(options.onEvent);
  }

  /** The thresholds crossings are emitted at for a scope's budgets: its own, plus any extra ones. */
  thresholdsOf(scope: string): readonly number[] {
    if (this.rules.length === 0 && this.extra === undefined) return this.thresholds;
    let found = this.ruleCache.get(scope);
    if (found === undefined) {
      const own = this.ownThresholdsOf(scope);
      const extra = this.extra?.(scope) ?? [];
      found = extra.length === 0 ? own : [...new Set([...own, ...extra])].sort((a, b) => a - b);
      if (this.ruleCache.size >= 100_000) this.ruleCache.clear();
      this.ruleCache.set(scope, found);
    }
    return found;
  }

  /** The thresholds the ledger's config sets for a scope's budgets (its rule's, else the ledger's). */
  ownThresholdsOf(scope: string): readonly number[] {
    return this.rules.find((rule) => matchesPattern(rule.pattern, scope))?.thresholds ?? this.thresholds;
  }

  /**
   * Adds thresholds per scope beyond the config's (a server's per-subscription webhook thresholds);
   * replaces the previous ones. Values outside (0, 1] are ignored.
   */
  setExtraThresholds(extra: ((scope: string) => readonly number[]) | undefined): void {
    this.extra =
      extra === undefined
        ? undefined
        : (scope) => extra(scope).filter((t) => typeof t === 'number' && t > 0 && t <= 1);
    this.ruleCache.clear();
  }

  private extra: ((scope: string) => readonly number[]) | undefined;

  /** Scope → its thresholds (patterns are matched once per scope, not per operation). */
  private readonly ruleCache = new Map<string, readonly number[]>();

  async list(query: EventQuery): Promise<EventPage> {
    validateEventQuery(query);
    return this.store.list(query);
  }

  get(eventId: string): Promise<ProtocolEvent | undefined> {
    return this.store.get(eventId);
  }

  storeAfter(ready: Promise<unknown>): void {
    const gate = ready.then(
      () => undefined,
      () => undefined,
    );
    this.storing = gate;
    // Appends chained before this runs go first (then-callbacks run in the order they were added).
    void gate.then(() => {
      if (this.storing === gate) this.storing = undefined;
    });
  }

  subscribe(listener: ProtocolEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(drafts: readonly EventDraft[], origin: EventOrigin = {}): ProtocolEvent[] {
    if (drafts.length === 0) return [];
    const now = this.clock.now();
    const timestamp = new Date(now).toISOString();
    const events = drafts.map((draft) => this.stamp(draft, origin, now, timestamp));
    if (this.storing !== undefined) {
      const store = this.store;
      this.storing.then(() => store.append(events)).catch(() => {});
    } else if (this.store instanceof MemoryEventStore) for (const event of events) this.store.add(event);
    else this.store.append(events).catch(() => {});
    for (const event of events) for (const listener of this.listeners) announce(listener, event);
    return events;
  }

  private rates: RateCounter | undefined;

  /**
   * Counts a scope's spend toward its burn rate: the rate counter's when it counts spends, else the log's
   * own windows (whose anomaly, if this spend set one off, is returned). Nothing with `burnRate: false`.
   */
  countSpend(
    spend: BurnSpend,
    holder?: { burn?: BurnState | undefined },
    nowMs?: number,
  ): EventDraft | undefined {
    if (this.burn === undefined) return undefined;
    if (this.rates?.spent !== undefined) {
      this.rates.spent(spend);
      return undefined;
    }
    return this.burn.spent(spend, holder, nowMs);
  }

  /** The configured settings of a rate spike (`denialRate`, `expiryRate`, defaults filled in). */
  rateSettingsOf(metric: 'denial_rate' | 'expiry_rate'): Required<RateSpikeOptions> {
    return (metric === 'denial_rate' ? this.denials : this.expiries).settings;
  }

  /** Sends the rate samples and hits to `counter` (undefined: back to the log's own windows). */
  setRateCounter(counter: RateCounter | undefined): void {
    this.rates = counter;
  }

  /**
   * Counts a granted live hold of a tenant: a sample of both its denial rate and its expiry rate. `nowMs`:
   * the operation's clock reading, when the caller has one (one read per operation).
   */
  countGranted(tenant: string | undefined, nowMs = this.clock.now()): void {
    if (this.rates !== undefined) {
      this.rates.sample('denial_rate', tenant);
      this.rates.sample('expiry_rate', tenant);
      return;
    }
    this.denials.sample(tenant, nowMs);
    this.expiries.sample(tenant, nowMs);
  }

  /**
   * Counts the denials (`reservation.denied`, a reserve too) and expiries (`reservation.expired`) among
   * `drafts`; returns them with the rate spikes they set off, each right after its cause. A ledger calls it
   * once per operation, when the drafts are made (the rates read the clock then). With a rate counter
   * set, the counter gets them and publishes any spike itself.
   */
  withRateSpikes(drafts: EventDraft[]): EventDraft[] {
    if (this.rates !== undefined) {
      for (const draft of drafts) {
        if (draft.type === 'reservation.denied') this.rates.hit('denial_rate', draft.tenant);
        else if (draft.type === 'reservation.expired') this.rates.hit('expiry_rate', draft.tenant);
      }
      return drafts;
    }
    let out: EventDraft[] | undefined;
    for (let i = 0; i < drafts.length; i++) {
      const draft = drafts[i]!;
      const spike =
        draft.type === 'reservation.denied'
          ? this.denials.hit(draft.tenant, true)
          : draft.type === 'reservation.expired'
            ? this.expiries.hit(draft.tenant, false)
            : undefined;
      if (out !== undefined) out.push(draft);
      if (spike === undefined) continue;
      out ??= drafts.slice(0, i + 1);
      out.push(spike);
    }
    return out ?? drafts;
  }

  private stamp(draft: EventDraft, origin: EventOrigin, now: number, timestamp: string): ProtocolEvent {
    const event: ProtocolEvent = {
      event_id: `evt_${now.toString(36)}${this.publisherTag}${(this.counter++).toString(36).padStart(6, '0')}`,
      event_type: draft.type,
      category: categoryOf(draft.type),
      timestamp,
      tenant_id: draft.tenant ?? SYSTEM_TENANT,
      source: this.source,
    };
    if (draft.scope !== undefined) event.scope = draft.scope;
    if (origin.actor !== undefined) event.actor = origin.actor;
    if (draft.data !== undefined) event.data = draft.data;
    if (draft.correlationId !== undefined) event.correlation_id = draft.correlationId;
    if (origin.requestId !== undefined) event.request_id = origin.requestId;
    if (origin.traceId !== undefined) event.trace_id = origin.traceId;
    return event;
  }
}

function announce(listener: ProtocolEventListener, event: ProtocolEvent): void {
  try {
    const result = listener(event);
    if (result !== undefined && typeof (result as Promise<void>).catch === 'function') {
      (result as Promise<void>).catch(() => {});
    }
  } catch {
    // A listener must never break the operation that produced the event.
  }
}
