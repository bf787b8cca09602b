import { type EventDraft, type LedgerEventLog, SYSTEM_TENANT } from '@cycles-guard/core/ledger-kit';
import type { RateCounts } from './rate-counts.ts';
import { type RateMetric, ratePairOf, type Selecting } from './thresholds.ts';

// The server's rate spikes (`reservation.denial_rate_spike`, `reservation.expiry_rate_spike`). The
// ledger hands every sample and hit here instead of counting them in its own process; they are added
// to counters beside the ledger (Redis: shared by every server) in batches off the request path, and
// a window whose total reaches a threshold fires once, claimed there. Each tenant is watched at the
// ledger's configured (threshold, window) and at every pair its subscriptions ask for (GOV
// `WebhookThresholdConfig`: `denial_rate_threshold`, `expiry_rate_threshold`, `rate_window_seconds`).

const SPIKES = {
  denial_rate: 'reservation.denial_rate_spike',
  expiry_rate: 'reservation.expiry_rate_spike',
} as const;

/** A window's counts not yet added to the shared counters. */
interface Pending {
  tenant: string;
  metric: RateMetric;
  windowMs: number;
  start: number;
  samples: number;
  hits: number;
  /** The thresholds judged on this window. */
  thresholds: number[];
  /** Taken by a flush: later counts open a new one. */
  taken: boolean;
}

/** One window length a tenant's metric is counted over, and the counts of its current window. */
interface Watched {
  windowMs: number;
  thresholds: number[];
  open: Pending | undefined;
}

export interface RateWatchOptions {
  now: () => number;
  /** How often samples are added to the counters (a hit is added at once). Default 250 ms. */
  flushMs?: number;
}

/** Counts a ledger's rate samples and hits across servers and publishes the spikes. */
export class RateWatch {
  private pending: Pending[] = [];
  /** Per metric and tenant, the windows watched; rebuilt from the subscriptions at each flush. */
  private watched: Record<RateMetric, Map<string, Watched[]>> = {
    denial_rate: new Map(),
    expiry_rate: new Map(),
  };
  private wanted = new Map<string, Selecting[]>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private flushing: Promise<void> | undefined;
  private soon = false;
  private readonly now: () => number;

  constructor(
    private readonly log: LedgerEventLog,
    private readonly counts: RateCounts,
    private readonly subscriptions: () => Iterable<Selecting>,
    options: RateWatchOptions,
  ) {
    this.now = options.now;
    this.index();
    this.log.setRateCounter(this);
    this.timer = setInterval(() => void this.flush(), options.flushMs ?? 250);
    this.timer.unref?.();
  }

  sample(metric: RateMetric, tenant: string | undefined): void {
    this.count(metric, tenant, 1, 0);
  }

  hit(metric: RateMetric, tenant: string | undefined): void {
    this.count(metric, tenant, metric === 'denial_rate' ? 1 : 0, 1);
    if (!this.soon) {
      this.soon = true;
      setImmediate(() => {
        this.soon = false;
        void this.flush();
      });
    }
  }

  /**
   * Re-reads the subscriptions' pairs (a new pair counts from then on), adds what is pending and judges
   * the windows that got hits; resolves when done (tests, close).
   */
  flush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  /** Gives the ledger its own counting back, after adding what is pending. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.log.setRateCounter(undefined);
    await this.flush();
  }

  /** On the request path: a few field updates, no lookup by text. */
  private count(metric: RateMetric, tenant: string | undefined, samples: number, hits: number): void {
    const key = tenant ?? SYSTEM_TENANT;
    const now = this.now();
    for (const watched of this.watchedOf(key, metric)) {
      const start = now - (now % watched.windowMs);
      let open = watched.open;
      if (open === undefined || open.taken || open.start !== start) {
        const { windowMs, thresholds } = watched;
        open = { tenant: key, metric, windowMs, start, samples: 0, hits: 0, thresholds, taken: false };
        watched.open = open;
        this.pending.push(open);
      }
      open.samples += samples;
      open.hits += hits;
    }
  }

  private async drain(): Promise<void> {
    this.index();
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      for (const window of batch) window.taken = true;
      try {
        const totals = await this.counts.add(
          batch.map(({ tenant, metric, windowMs, start, samples, hits }) => ({
            key: `${metric}:${windowMs}:${start}`,
            tenant,
            samples,
            hits,
            ttlMs: 2 * windowMs,
          })),
        );
        for (const [index, window] of batch.entries()) {
          if (window.hits > 0) await this.judge(window, totals[index]!);
        }
      } catch {
        // The counters are unreachable: this batch is not counted (a spike may come late or not at all).
      }
    }
  }

  /** Fires each threshold of the window that its totals reach, once (claimed beside the counters). */
  private async judge(window: Pending, total: { samples: number; hits: number }): Promise<void> {
    const { minSamples } = this.log.rateSettingsOf(window.metric);
    if (total.samples < minSamples) return;
    for (const threshold of window.thresholds) {
      if (total.hits / total.samples < threshold) continue;
      const seconds = Math.round(window.windowMs / 1000);
      const id = `${window.metric}:${window.tenant}:${window.start}:${seconds}s:${threshold}`;
      if (!(await this.counts.claim(id, window.tenant, 2 * window.windowMs))) continue;
      const draft: EventDraft = {
        type: SPIKES[window.metric],
        tenant: window.tenant === SYSTEM_TENANT ? undefined : window.tenant,
        correlationId: id,
        data: {
          metric: window.metric,
          // GOV: events per minute, over the part of the window gone by (at least one second).
          current_rate: total.hits / (Math.max(this.now() - window.start, 1000) / 60_000),
          threshold_rate: threshold,
          window_seconds: seconds,
          sample_count: total.samples,
        },
      };
      this.log.publish([draft]);
    }
  }

  /** The active subscriptions by tenant; the windows watched are worked out again as counts come. */
  private index(): void {
    this.wanted = new Map();
    this.watched = { denial_rate: new Map(), expiry_rate: new Map() };
    for (const subscription of this.subscriptions()) {
      if (subscription.status !== 'ACTIVE') continue;
      const list = this.wanted.get(subscription.tenant_id) ?? [];
      list.push(subscription);
      this.wanted.set(subscription.tenant_id, list);
    }
  }

  /** The windows a tenant's metric is watched over: the ledger's pair, and its and `__system__`'s subscriptions'. */
  private watchedOf(tenant: string, metric: RateMetric): Watched[] {
    const cached = this.watched[metric].get(tenant);
    if (cached !== undefined) return cached;
    const defaults = this.log.rateSettingsOf(metric);
    const byWindow = new Map<number, number[]>([[defaults.windowMs, [defaults.threshold]]]);
    const type = SPIKES[metric];
    for (const owner of new Set([tenant, SYSTEM_TENANT])) {
      for (const subscription of this.wanted.get(owner) ?? []) {
        if (
          !subscription.event_types.includes(type) &&
          !(subscription.event_categories ?? []).includes('reservation')
        ) {
          continue;
        }
        const { threshold, windowMs } = ratePairOf(subscription, metric, defaults);
        const thresholds = byWindow.get(windowMs) ?? [];
        if (!thresholds.includes(threshold)) thresholds.push(threshold);
        byWindow.set(windowMs, thresholds);
      }
    }
    const watched = [...byWindow].map(([windowMs, thresholds]) => ({
      windowMs,
      thresholds,
      open: undefined,
    }));
    this.watched[metric].set(tenant, watched);
    return watched;
  }
}
