import { type BurnSpend, type EventDraft, SYSTEM_TENANT } from '@cycles-guard/core/ledger-kit';
import { SPIKES } from './rate-pairs.ts';
import { type BurnPair, burnPairTag, type WatchedMetric } from './thresholds.ts';

// The drafts of the rate watch's alerts (GOV `EventDataRateSpike`, `EventDataBurnRateAnomaly`), and their
// correlation ids: an id names the window and the pair, so it is also the claim that fires it once.

/** A rate window, as a spike names it. */
export interface RateWindow {
  metric: WatchedMetric;
  tenant: string;
  windowMs: number;
  start: number;
}

/** A burn-rate window, as an anomaly names it. */
export interface SpendWindow {
  tenant: string;
  scope: string;
  unit: BurnSpend['unit'];
  windowMs: number;
  window: number;
  /** The scope's remaining at its last spend (for the projection). */
  remaining: number;
}

const tenantOf = (tenant: string) => (tenant === SYSTEM_TENANT ? undefined : tenant);

export function rateSpikeId(window: RateWindow, threshold: number): string {
  return `${window.metric}:${window.tenant}:${window.start}:${Math.round(window.windowMs / 1000)}s:${threshold}`;
}

export function rateSpikeDraft(
  window: RateWindow,
  total: { samples: number; hits: number },
  threshold: number,
  now: number,
): EventDraft {
  return {
    type: SPIKES[window.metric].type,
    tenant: tenantOf(window.tenant),
    correlationId: rateSpikeId(window, threshold),
    data: {
      metric: window.metric,
      // GOV: events per minute, over the part of the window gone by (at least one second).
      current_rate: total.hits / (Math.max(now - window.start, 1000) / 60_000),
      threshold_rate: threshold,
      window_seconds: Math.round(window.windowMs / 1000),
      sample_count: total.samples,
    },
  };
}

/** The id names the pair (`…:300s*:x3`, see `burnPairTag`), so a subscription can pick its own. */
export function burnAnomalyId(window: SpendWindow, multiplier: number, ledger: BurnPair): string {
  const start = window.window * window.windowMs;
  return `burn_rate:${window.scope}:${window.unit}:${start}${burnPairTag({ multiplier, windowMs: window.windowMs }, ledger)}`;
}

export function burnAnomalyDraft(
  window: SpendWindow,
  total: { spent: number; baseline: number },
  id: string,
): EventDraft {
  const minutes = window.windowMs / 60_000;
  const current = total.spent / minutes;
  const baseline = total.baseline / minutes;
  return {
    type: 'budget.burn_rate_anomaly',
    tenant: tenantOf(window.tenant),
    scope: window.scope,
    correlationId: id,
    data: {
      scope: window.scope,
      unit: window.unit,
      current_rate: current,
      baseline_rate: baseline,
      multiplier: current / baseline,
      window_seconds: Math.round(window.windowMs / 1000),
      projected_exhaustion_minutes: window.remaining > 0 ? window.remaining / current : 0,
    },
  };
}
