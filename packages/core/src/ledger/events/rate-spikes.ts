import type { Clock } from '../../clock.ts';
import { invalid } from '../../protocol/errors.ts';
import { type EventDraft, SYSTEM_TENANT } from './event-types.ts';

// The `reservation.*_rate_spike` rule, one mechanism for every rate (GOV `EventDataRateSpike`): per
// tenant, tumbling windows aligned to the epoch (so a ManualClock makes it deterministic); in each window
// the first hit that brings hits / samples to the threshold, with at least `minSamples` samples, fires
// the spike once.

/** Settings of one rate spike (all optional; the defaults are GOV `WebhookThresholdConfig`'s). */
export interface RateSpikeOptions {
  /** Fraction of samples that are hits, in [0, 1]. */
  threshold?: number;
  /** Window length, 1 s to 1 day. Default 300 s. */
  windowMs?: number;
  /** Samples a window needs before it may fire. Default 20. */
  minSamples?: number;
}

/** Tenants tracked per rate at once. Past it a new tenant is not counted until the next window. */
export const MAX_RATE_TENANTS = 100_000;

interface RateWindow {
  start: number;
  samples: number;
  hits: number;
  fired: boolean;
}

/** Checks a rate option (400 naming it) and fills the defaults. */
export function rateSettings(
  field: string,
  options: RateSpikeOptions | undefined,
  defaultThreshold: number,
): Required<RateSpikeOptions> {
  const { threshold = defaultThreshold, windowMs = 300_000, minSamples = 20 } = options ?? {};
  if (typeof threshold !== 'number' || !(threshold >= 0 && threshold <= 1)) {
    throw invalid(`${field}.threshold`, 'must be a fraction in [0, 1]', `e.g. ${defaultThreshold}`);
  }
  if (!Number.isSafeInteger(windowMs) || windowMs < 1000 || windowMs > 86_400_000) {
    throw invalid(`${field}.windowMs`, 'must be an integer from 1,000 to 86,400,000', 'e.g. 300000 (5 min)');
  }
  if (!Number.isSafeInteger(minSamples) || minSamples < 1) {
    throw invalid(`${field}.minSamples`, 'must be a positive integer', 'e.g. 20');
  }
  return { threshold, windowMs, minSamples };
}

/** One rate (`denial_rate`: denied / reserves; `expiry_rate`: expired / holds granted) of every tenant. */
export class RateSpikes {
  private readonly windows = new Map<string, RateWindow>();

  constructor(
    private readonly metric: 'denial_rate' | 'expiry_rate',
    private readonly type: 'reservation.denial_rate_spike' | 'reservation.expiry_rate_spike',
    readonly settings: Required<RateSpikeOptions>,
    private readonly clock: Clock,
    private readonly maxTenants = MAX_RATE_TENANTS,
  ) {}

  /** Counts one sample of a tenant (a reserve, a granted hold). */
  sample(tenant: string | undefined, nowMs = this.clock.now()): void {
    const window = this.windowOf(tenant, nowMs);
    if (window !== undefined) window.samples++;
  }

  /**
   * Counts one hit (a denial, an expiry), itself a sample too when `alsoSample`; returns the spike the
   * first time in a window the rate reaches the threshold.
   */
  hit(tenant: string | undefined, alsoSample: boolean): EventDraft | undefined {
    const now = this.clock.now();
    const window = this.windowOf(tenant, now);
    if (window === undefined) return undefined;
    window.hits++;
    if (alsoSample) window.samples++;
    const { threshold, windowMs, minSamples } = this.settings;
    if (window.fired || window.samples < minSamples || window.hits / window.samples < threshold) {
      return undefined;
    }
    window.fired = true;
    const key = tenant ?? SYSTEM_TENANT;
    return {
      type: this.type,
      tenant,
      correlationId: `${this.metric}:${key}:${window.start}`,
      data: {
        metric: this.metric,
        // GOV: events per minute, over the part of the window gone by (at least one second).
        current_rate: window.hits / (Math.max(now - window.start, 1000) / 60_000),
        threshold_rate: threshold,
        window_seconds: Math.round(windowMs / 1000),
        sample_count: window.samples,
      },
    };
  }

  /** The tenant's current window, started afresh at a window boundary; undefined past the tenant cap. */
  private windowOf(tenant: string | undefined, now: number): RateWindow | undefined {
    const key = tenant ?? SYSTEM_TENANT;
    const start = now - (now % this.settings.windowMs);
    const last = this.lastWindow;
    if (last !== undefined && last.start === start && key === this.lastKey) return last;
    let window = this.windows.get(key);
    if (window === undefined || window.start !== start) {
      if (window === undefined && this.windows.size >= this.maxTenants && !this.dropEnded(start)) {
        return undefined;
      }
      window = { start, samples: 0, hits: 0, fired: false };
      this.windows.set(key, window);
    }
    this.lastKey = key;
    this.lastWindow = window;
    return window;
  }

  /** The last tenant's window (callers mostly repeat a tenant): a hit skips the map lookup. */
  private lastKey = '';
  private lastWindow: RateWindow | undefined;

  /** Forgets the windows that ended (nothing in them can fire again); true if any room was made. */
  private dropEnded(start: number): boolean {
    this.lastWindow = undefined;
    const size = this.windows.size;
    for (const [key, window] of this.windows) if (window.start !== start) this.windows.delete(key);
    return this.windows.size < size;
  }
}
