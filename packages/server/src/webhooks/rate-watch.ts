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
}

/** Window length → the thresholds judged on it. */
type Pairs = Map<number, number[]>;

export interface RateWatchOptions {
  now: () => number;
  /** How often samples are added to the counters (a hit is added at once). Default 250 ms. */
  flushMs?: number;
}

/** Counts a ledger's rate samples and hits across servers and publishes the spikes. */
export class RateWatch {
  private pending = new Map<string, Pending>();
  /** Per tenant and metric, the pairs watched; rebuilt from the subscriptions at each flush. */
  private pairs = new Map<string, Pairs>();
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

  private count(metric: RateMetric, tenant: string | undefined, samples: number, hits: number): void {
    const key = tenant ?? SYSTEM_TENANT;
    const now = this.now();
    for (const windowMs of this.pairsOf(key, metric).keys()) {
      const start = now - (now % windowMs);
      const slot = `${key}|${metric}|${windowMs}|${start}`;
      let pending = this.pending.get(slot);
      if (pending === undefined) {
        pending = { tenant: key, metric, windowMs, start, samples: 0, hits: 0 };
        this.pending.set(slot, pending);
      }
      pending.samples += samples;
      pending.hits += hits;
    }
  }

  private async drain(): Promise<void> {
    this.index();
    while (this.pending.size > 0) {
      const batch = [...this.pending.values()];
      this.pending = new Map();
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
    for (const threshold of this.pairsOf(window.tenant, window.metric).get(window.windowMs) ?? []) {
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

  /** The active subscriptions that receive each spike type, by tenant. */
  private index(): void {
    this.wanted = new Map();
    this.pairs = new Map();
    for (const subscription of this.subscriptions()) {
      if (subscription.status !== 'ACTIVE') continue;
      const list = this.wanted.get(subscription.tenant_id) ?? [];
      list.push(subscription);
      this.wanted.set(subscription.tenant_id, list);
    }
  }

  /** The pairs a tenant's metric is watched at: the ledger's, and its and `__system__`'s subscriptions'. */
  private pairsOf(tenant: string, metric: RateMetric): Pairs {
    const cached = this.pairs.get(`${metric}|${tenant}`);
    if (cached !== undefined) return cached;
    const defaults = this.log.rateSettingsOf(metric);
    const pairs: Pairs = new Map([[defaults.windowMs, [defaults.threshold]]]);
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
        const thresholds = pairs.get(windowMs) ?? [];
        if (!thresholds.includes(threshold)) thresholds.push(threshold);
        pairs.set(windowMs, thresholds);
      }
    }
    this.pairs.set(`${metric}|${tenant}`, pairs);
    return pairs;
  }
}
