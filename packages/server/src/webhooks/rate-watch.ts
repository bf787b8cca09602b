import {
  type BurnSpend,
  type LedgerEventLog,
  SYSTEM_TENANT,
  tenantOfScope,
} from '@cycles-guard/core/ledger-kit';
import {
  burnAnomalyDraft,
  burnAnomalyId,
  type RateWindow,
  rateSpikeDraft,
  rateSpikeId,
  type SpendWindow,
} from './rate-alerts.ts';
import type { RateCounts } from './rate-counts.ts';
import { WatchedPairs } from './rate-pairs.ts';
import { AUTH_RATE_DEFAULTS, type BurnPair, type Selecting, type WatchedMetric } from './thresholds.ts';

// The server's rate alerts: `reservation.denial_rate_spike`, `reservation.expiry_rate_spike`,
// `api_key.auth_failure_rate_spike` and `budget.burn_rate_anomaly`. The ledger (and the auth check) hand
// every sample, hit and spend here instead of counting them in their own process; they are added to
// counters beside the ledger (Redis: shared by every server) in batches off the request path, and a
// window that reaches a threshold fires once, claimed there. Each tenant is watched at the configured
// pair and at every pair its subscriptions ask for (GOV `WebhookThresholdConfig`). Counts a batch could
// not add stay here, summed per counter, and go with the next batch.

/** Counters kept here at most (not yet added, or kept from a failed batch); past it new ones are dropped. */
export const MAX_UNFLUSHED = 100_000;

/** A rate window's counts not yet added to the shared counters. */
interface RateTally extends RateWindow {
  kind: 'rate';
  key: string;
  samples: number;
  hits: number;
  /** The thresholds judged on this window. */
  thresholds: number[];
  /** Judged at the next flush even with no new hit (its judging failed). */
  judge: boolean;
  /** Taken by a flush: later counts open a new one. */
  taken: boolean;
}

/** A scope's spend in a burn-rate window, not yet added. */
interface SpendTally extends SpendWindow {
  kind: 'burn';
  key: string;
  amount: number;
  multipliers: number[];
  judge: boolean;
  taken: boolean;
}

type Tally = RateTally | SpendTally;

/** One window length a tenant's rate is counted over, and the counts of its current window. */
interface Watched {
  windowMs: number;
  thresholds: number[];
  open: RateTally | undefined;
}

/** One window length a tenant's spends are counted over, and the multipliers judged on it. */
interface WatchedBurn {
  windowMs: number;
  multipliers: number[];
}

/** One window length a scope's spends are counted over, and the counts of its current window. */
interface SpendSeries extends WatchedBurn {
  open: SpendTally | undefined;
}

export interface RateWatchOptions {
  now: () => number;
  /** How often samples are added to the counters (a hit is added at once). Default 250 ms. */
  flushMs?: number;
}

/** Counts rate samples, hits and spends across servers and publishes the spikes and anomalies. */
export class RateWatch {
  private unflushed = new Map<string, Tally>();
  /** Counts dropped: past `MAX_UNFLUSHED`, or kept past their counter's life while the counters were down. */
  dropped = 0;
  /** Per metric and tenant, the windows watched; rebuilt from the subscriptions at each flush. */
  private watched: Record<WatchedMetric, Map<string, Watched[]>> = {
    denial_rate: new Map(),
    expiry_rate: new Map(),
    auth_failure_rate: new Map(),
  };
  private watchedBurn = new Map<string, WatchedBurn[]>();
  /** Per scope and unit, the series its spends go to; rebuilt (emptied) at each flush. */
  private spending = new Map<string, Map<string, SpendSeries[]>>();
  private pairs = new WatchedPairs([]);
  private timer: ReturnType<typeof setInterval> | undefined;
  private flushing: Promise<void> | undefined;
  private soon = false;
  private readonly now: () => number;
  private readonly burn: (BurnPair & { baselineWindows: number }) | undefined;

  constructor(
    private readonly log: LedgerEventLog,
    private readonly counts: RateCounts,
    private readonly subscriptions: () => Iterable<Selecting>,
    options: RateWatchOptions,
  ) {
    this.now = options.now;
    this.burn = log.burn?.settings;
    this.index();
    this.log.setRateCounter(this);
    this.timer = setInterval(() => void this.flush(), options.flushMs ?? 250);
    this.timer.unref?.();
  }

  sample(metric: WatchedMetric, tenant: string | undefined): void {
    this.count(metric, tenant, 1, 0);
  }

  hit(metric: WatchedMetric, tenant: string | undefined): void {
    this.count(metric, tenant, metric === 'expiry_rate' ? 0 : 1, 1);
    this.flushSoon();
  }

  /**
   * An auth attempt (`auth-failures.ts`): one sample, a hit if it failed. Added with the next timed batch,
   * not at once: a flood of bad keys must not turn into a flood of round trips.
   */
  authAttempt(failed: boolean): void {
    this.count('auth_failure_rate', undefined, 1, failed ? 1 : 0);
  }

  /**
   * A scope's spend (the ledger's, on the commit path): field updates on the scope's series, found by two
   * map lookups on the strings the ledger passes; text is built only when a window opens.
   */
  spent(spend: BurnSpend): void {
    if (this.burn === undefined || !(spend.amount > 0)) return;
    let units = this.spending.get(spend.scope);
    if (units === undefined) {
      units = new Map();
      this.spending.set(spend.scope, units);
    }
    let series = units.get(spend.unit);
    if (series === undefined) {
      const tenant = tenantOfScope(spend.scope) ?? SYSTEM_TENANT;
      series = this.burnWatchedOf(tenant).map(({ windowMs, multipliers }) => ({
        windowMs,
        multipliers,
        open: undefined,
      }));
      units.set(spend.unit, series);
    }
    const now = this.now();
    for (const watched of series) {
      const window = Math.floor(now / watched.windowMs);
      let open = watched.open;
      if (open === undefined || open.taken || open.window !== window) {
        open = this.openSpend(spend, watched, window);
        if (open === undefined) continue;
        watched.open = open;
      }
      open.amount += spend.amount;
      open.remaining = spend.remaining;
    }
  }

  /** The unflushed spend of a scope's window (merged with any a failed batch left), or undefined past the bound. */
  private openSpend(spend: BurnSpend, watched: SpendSeries, window: number): SpendTally | undefined {
    const { scope, unit } = spend;
    const { windowMs, multipliers } = watched;
    const key = `burn:${windowMs}:${window}:${scope}|${unit}`;
    const kept = this.unflushed.get(key) as SpendTally | undefined;
    if (kept !== undefined) return kept;
    if (this.unflushed.size >= MAX_UNFLUSHED) {
      this.dropped++;
      return undefined;
    }
    const tenant = tenantOfScope(scope) ?? SYSTEM_TENANT;
    const open: SpendTally = {
      kind: 'burn',
      key,
      tenant,
      scope,
      unit,
      windowMs,
      window,
      amount: 0,
      remaining: 0,
      multipliers,
      judge: false,
      taken: false,
    };
    this.unflushed.set(key, open);
    return open;
  }

  /**
   * Re-reads the subscriptions' pairs (a new pair counts from then on), adds what is unflushed and judges
   * the windows that got hits or spends; resolves when done (tests, close).
   */
  flush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  /** Gives the ledger its own counting back, after adding what is unflushed. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.log.setRateCounter(undefined);
    await this.flush();
  }

  /** Counters waiting for the next flush (bounded by `MAX_UNFLUSHED`). */
  get unflushedCount(): number {
    return this.unflushed.size;
  }

  private flushSoon(): void {
    if (this.soon) return;
    this.soon = true;
    setImmediate(() => {
      this.soon = false;
      void this.flush();
    });
  }

  /** On the request path: a few field updates, no lookup by text (but when a window opens). */
  private count(metric: WatchedMetric, tenant: string | undefined, samples: number, hits: number): void {
    const key = tenant ?? SYSTEM_TENANT;
    const now = this.now();
    for (const watched of this.watchedOf(key, metric)) {
      const start = now - (now % watched.windowMs);
      let open = watched.open;
      if (open === undefined || open.taken || open.start !== start) {
        open = this.openRate(key, metric, watched, start);
        if (open === undefined) continue;
        watched.open = open;
      }
      open.samples += samples;
      open.hits += hits;
    }
  }

  /** The unflushed counts of a window (merged with any a failed batch left), or undefined past the bound. */
  private openRate(tenant: string, metric: WatchedMetric, watched: Watched, start: number) {
    const { windowMs, thresholds } = watched;
    const key = `${metric}:${windowMs}:${start}:${tenant}`;
    const kept = this.unflushed.get(key) as RateTally | undefined;
    if (kept !== undefined) return kept;
    if (this.unflushed.size >= MAX_UNFLUSHED) {
      this.dropped++;
      return undefined;
    }
    const open: RateTally = {
      kind: 'rate',
      key,
      tenant,
      metric,
      windowMs,
      start,
      samples: 0,
      hits: 0,
      thresholds,
      judge: false,
      taken: false,
    };
    this.unflushed.set(key, open);
    return open;
  }

  private async drain(): Promise<void> {
    this.index();
    // A batch that fails is kept for the next flush, not retried in this one.
    let rounds = 2;
    while (this.unflushed.size > 0 && rounds-- > 0) {
      const batch = [...this.unflushed.values()];
      this.unflushed = new Map();
      for (const counts of batch) counts.taken = true;
      const rates = batch.filter((counts) => counts.kind === 'rate');
      const spends = batch.filter((counts) => counts.kind === 'burn');
      const [rateTotals, spendTotals] = await Promise.all([this.addRates(rates), this.addSpends(spends)]);
      for (const [index, window] of rates.entries()) {
        const total = rateTotals?.[index];
        if (total === undefined) continue;
        if (window.hits > 0 || window.judge) await this.judgeRate(window, total);
      }
      for (const [index, window] of spends.entries()) {
        const total = spendTotals?.[index];
        if (total !== undefined) await this.judgeBurn(window, total);
      }
      if (rateTotals === undefined || spendTotals === undefined) return;
    }
  }

  /** Adds a batch of rate counts; undefined (and the counts kept) when the counters are unreachable. */
  private async addRates(batch: RateTally[]) {
    if (batch.length === 0) return [];
    try {
      return await this.counts.add(
        batch.map(({ key, tenant, samples, hits, windowMs }) => ({
          key,
          tenant,
          samples,
          hits,
          ttlMs: 2 * windowMs,
        })),
      );
    } catch {
      for (const counts of batch) this.keep(counts);
      return undefined;
    }
  }

  private async addSpends(batch: SpendTally[]) {
    if (batch.length === 0 || this.burn === undefined) return [];
    const { baselineWindows } = this.burn;
    try {
      return await this.counts.addSpends(
        batch.map(({ tenant, scope, unit, windowMs, window, amount }) => ({
          series: `${windowMs}:${scope}|${unit}`,
          tenant,
          window,
          amount,
          baselineWindows,
          windowMs,
        })),
      );
    } catch {
      for (const counts of batch) this.keep(counts);
      return undefined;
    }
  }

  /**
   * Puts counts a batch could not add (or judge) back for the next flush, summed into the window's newer
   * counts if there are any. Counts whose counter would have expired by now are dropped: the window is
   * long over and nothing in it can fire any more.
   */
  private keep(counts: Tally): void {
    const start = counts.kind === 'rate' ? counts.start : counts.window * counts.windowMs;
    const newer = this.unflushed.get(counts.key);
    if (
      this.now() - start >= 2 * counts.windowMs ||
      (newer === undefined && this.unflushed.size >= MAX_UNFLUSHED)
    ) {
      this.dropped++;
      return;
    }
    if (newer === undefined) {
      counts.taken = false;
      this.unflushed.set(counts.key, counts);
    } else if (newer.kind === 'rate' && counts.kind === 'rate') {
      newer.samples += counts.samples;
      newer.hits += counts.hits;
      newer.judge ||= counts.judge;
    } else if (newer.kind === 'burn' && counts.kind === 'burn') {
      newer.amount += counts.amount;
      newer.judge ||= counts.judge;
    }
  }

  /** A window whose judging failed after its counts were added: judged again next flush, nothing re-added. */
  private judgeLater(counts: Tally): void {
    if (counts.kind === 'rate') {
      counts.samples = 0;
      counts.hits = 0;
    } else {
      counts.amount = 0;
    }
    counts.judge = true;
    this.keep(counts);
    this.flushSoon();
  }

  /** Fires each threshold of the window that its totals reach, once (claimed beside the counters). */
  private async judgeRate(window: RateTally, total: { samples: number; hits: number }): Promise<void> {
    if (total.samples < this.settingsOf(window.metric).minSamples) return;
    try {
      for (const threshold of window.thresholds) {
        if (total.hits / total.samples < threshold) continue;
        const id = rateSpikeId(window, threshold);
        if (!(await this.counts.claim(id, window.tenant, 2 * window.windowMs))) continue;
        this.log.publish([rateSpikeDraft(window, total, threshold, this.now())]);
      }
    } catch {
      this.judgeLater(window);
    }
  }

  /** Fires each multiplier the window's spend reaches over its baseline, once (claimed beside the counters). */
  private async judgeBurn(window: SpendTally, total: { spent: number; baseline: number }): Promise<void> {
    const ledger = this.burn;
    if (ledger === undefined || !(total.baseline > 0)) return;
    try {
      for (const multiplier of window.multipliers) {
        if (total.spent < multiplier * total.baseline) continue;
        const id = burnAnomalyId(window, multiplier, ledger);
        if (!(await this.counts.claim(id, window.tenant, 2 * window.windowMs))) continue;
        this.log.publish([burnAnomalyDraft(window, total, id)]);
      }
    } catch {
      this.judgeLater(window);
    }
  }

  private settingsOf(metric: WatchedMetric): { threshold: number; windowMs: number; minSamples: number } {
    return metric === 'auth_failure_rate' ? AUTH_RATE_DEFAULTS : this.log.rateSettingsOf(metric);
  }

  /** The active subscriptions' pairs; the windows watched are worked out again as counts come. */
  private index(): void {
    this.pairs = new WatchedPairs(this.subscriptions());
    this.watched = { denial_rate: new Map(), expiry_rate: new Map(), auth_failure_rate: new Map() };
    this.watchedBurn = new Map();
    this.spending = new Map();
  }

  /** The windows a tenant's rate is watched over, each with its current window's counts. */
  private watchedOf(tenant: string, metric: WatchedMetric): Watched[] {
    const cached = this.watched[metric].get(tenant);
    if (cached !== undefined) return cached;
    const windows = this.pairs.rateWindows(tenant, metric, this.settingsOf(metric));
    const watched = [...windows].map(([windowMs, thresholds]) => ({ windowMs, thresholds, open: undefined }));
    this.watched[metric].set(tenant, watched);
    return watched;
  }

  /** The window lengths a tenant's spends are watched over, with the multipliers judged on each. */
  private burnWatchedOf(tenant: string): WatchedBurn[] {
    const cached = this.watchedBurn.get(tenant);
    if (cached !== undefined) return cached;
    const windows = this.pairs.burnWindows(tenant, this.burn!);
    const watched = [...windows].map(([windowMs, multipliers]) => ({ windowMs, multipliers }));
    this.watchedBurn.set(tenant, watched);
    return watched;
  }
}
