import type { BurnRateOptions } from './burn-rate.ts';
import type { EventPage, EventQuery } from './event-query.ts';
import type { EventStore } from './event-store.ts';
import type { EventDraft, EventOrigin, ProtocolEvent } from './event-types.ts';
import type { RateSpikeOptions } from './rate-spikes.ts';

// The events API types, apart from the pipeline (event-log.ts), so the ledger interface can name them
// without importing the pipeline's code.

/** Gets every event a ledger emits, after it is stored. May be async; its errors are swallowed. */
export type ProtocolEventListener = (event: ProtocolEvent) => void | Promise<void>;

/** Thresholds for the budgets a scope or template pattern matches (`tenant:*` + `/app:chat`). */
export interface ThresholdRule {
  pattern: string;
  thresholds: number[];
}

/** Events options of a ledger (memory or Redis). */
export interface LedgerEventsOptions {
  /** `budget.threshold_crossed` utilizations, each in (0, 1]. Default [0.80, 0.95]. */
  thresholds?: number[];
  /** Per-ledger or per-template thresholds: the first rule whose pattern matches the scope wins. */
  thresholdRules?: ThresholdRule[];
  /** Where events are kept (default: in memory, 10,000 per tenant, 7 days). */
  store?: EventStore;
  /** Called with every event (e.g. a webhook sink). */
  onEvent?: ProtocolEventListener;
  /** `Event.source`. Default `cycles-guard`. */
  source?: string;
  /**
   * `reservation.denial_rate_spike` when at least `minSamples` reserves of a tenant in one window were
   * tried and this fraction of them denied (once per window). Default 0.10 over 300 s, 20 samples.
   */
  denialRate?: RateSpikeOptions;
  /**
   * `reservation.expiry_rate_spike` when a tenant's expiries in one window reach this fraction of the
   * holds it was granted in that window (at least `minSamples` of them; once per window). Default 0.05
   * over 300 s, 20 samples.
   */
  expiryRate?: RateSpikeOptions;
  /**
   * `budget.burn_rate_anomaly` when a scope's spend in one window reaches `multiplier` x its mean spend
   * per window over the `baselineWindows` before (once per window). Default 3.0 over 300 s windows, a
   * 12-window baseline; bounded per tenant (`maxScopesPerTenant`). `false` turns it off.
   */
  burnRate?: BurnRateOptions | false;
}

/** The events API of a ledger: list, read, subscribe, and publish events caused outside the ledger. */
export interface LedgerEvents {
  /** Validates the query (400 naming the field) and returns one page. */
  list(query: EventQuery): Promise<EventPage>;
  get(eventId: string): Promise<ProtocolEvent | undefined>;
  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: ProtocolEventListener): () => void;
  /** Stamps, stores and announces events (admin actions, webhook lifecycle). Returns them. */
  publish(drafts: readonly EventDraft[], origin?: EventOrigin): ProtocolEvent[];
  /**
   * The tag this process puts in the ids of the events it publishes (`evt_<ms in base 36><tag><counter>`,
   * 6 characters): a server sharing a store tells its own events from others' by it.
   */
  readonly publisherTag: string;
  /**
   * Stores the events published from now on only once `ready` settles (in order; announced at once):
   * a webhook dispatcher's first delivery mark must be stored before any event it may have to resend.
   */
  storeAfter(ready: Promise<unknown>): void;
}
