import { InvalidRequestError } from '@cycles-guard/core';
import { SYSTEM_TENANT, tenantOfScope } from '@cycles-guard/core/ledger-kit';
import type { ProtocolEvent } from '@cycles-guard/core/webhooks';

// GOV `WebhookThresholdConfig`, per subscription. `budget_utilization` is applied at both ends: the
// ledger also emits `budget.threshold_crossed` at those utilizations for the subscription's tenant (all
// tenants for `__system__`), and the subscription receives the crossings of its own list only. A
// subscription without the field receives the crossings the ledger's config sets (80 % and 95 % unless
// configured). `burn_rate_multiplier` narrows `budget.burn_rate_anomaly` to the anomalies at least that
// steep (the ledger detects at its own multiplier, so a lower value cannot widen them). The rate fields
// (`denial_rate_threshold`, `expiry_rate_threshold`, `rate_window_seconds`) are applied at both ends as
// well: the server watches the tenant's rates at that (threshold, window) pair too (`rate-watch.ts`),
// and the subscription receives the spikes of its own pair only, an omitted field taking the ledger's
// configured value (10 % and 5 % over 300 s unless configured). `burn_rate_window_seconds` is stored
// only: the ledger's burn-rate windows are per ledger.

/** A stored `WebhookThresholdConfig` (wire names). */
export interface ThresholdConfig {
  budget_utilization?: number[];
  burn_rate_multiplier?: number;
  burn_rate_window_seconds?: number;
  denial_rate_threshold?: number;
  expiry_rate_threshold?: number;
  auth_failure_rate_threshold?: number;
  rate_window_seconds?: number;
}

const RANGES: Record<keyof ThresholdConfig, [number, number, 'number' | 'integer'] | undefined> = {
  budget_utilization: undefined,
  burn_rate_multiplier: [1.5, 1000, 'number'],
  burn_rate_window_seconds: [60, 86_400, 'integer'],
  denial_rate_threshold: [0, 1, 'number'],
  expiry_rate_threshold: [0, 1, 'number'],
  auth_failure_rate_threshold: [0, 1, 'number'],
  rate_window_seconds: [60, 86_400, 'integer'],
};

function fail(field: string, problem: string): never {
  throw new InvalidRequestError(`${field} ${problem}`, { details: { field } });
}

/** A `WebhookThresholdConfig` from a request, every field in the spec's range (400 naming it). */
export function checkThresholds(value: unknown): ThresholdConfig | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail('thresholds', 'must be an object (WebhookThresholdConfig)');
  const wire = value as Record<string, unknown>;
  const config: ThresholdConfig = {};
  for (const [key, field] of Object.entries(wire)) {
    const name = `thresholds.${key.slice(0, 64)}`;
    if (!(key in RANGES))
      fail(name, `is not a field of WebhookThresholdConfig: use ${Object.keys(RANGES).join(', ')}`);
    if (key === 'budget_utilization') {
      if (
        !Array.isArray(field) ||
        field.length > 20 ||
        field.some((t) => typeof t !== 'number' || !(t >= 0 && t <= 1))
      ) {
        fail(name, 'must be an array of at most 20 utilizations from 0 to 1, e.g. [0.5, 0.8]');
      }
      config.budget_utilization = [...new Set(field as number[])].sort((a, b) => a - b);
      continue;
    }
    const [min, max, kind] = RANGES[key as keyof ThresholdConfig]!;
    const valid =
      typeof field === 'number' &&
      field >= min &&
      field <= max &&
      (kind === 'number' || Number.isInteger(field));
    if (!valid) fail(name, `must be ${kind === 'integer' ? 'an integer' : 'a number'} from ${min} to ${max}`);
    (config as Record<string, number>)[key] = field as number;
  }
  return config;
}

/** What thresholds read of a subscription. */
export interface Selecting {
  tenant_id: string;
  status: string;
  event_types: string[];
  event_categories?: string[];
  thresholds?: ThresholdConfig;
}

/** A rate whose spikes the server watches. */
export type RateMetric = 'denial_rate' | 'expiry_rate';

/** A rate's (threshold, window) as the ledger's config sets it. */
export interface RateDefaults {
  threshold: number;
  windowMs: number;
}

/** The (threshold, window) a subscription watches a rate at: its own fields, else the defaults. */
export function ratePairOf(
  subscription: Selecting,
  metric: RateMetric,
  defaults: RateDefaults,
): RateDefaults {
  const own = subscription.thresholds;
  const threshold = metric === 'denial_rate' ? own?.denial_rate_threshold : own?.expiry_rate_threshold;
  const seconds = own?.rate_window_seconds;
  return {
    threshold: threshold ?? defaults.threshold,
    windowMs: seconds === undefined ? defaults.windowMs : seconds * 1000,
  };
}

const SPIKE_METRICS: Record<string, RateMetric> = {
  'reservation.denial_rate_spike': 'denial_rate',
  'reservation.expiry_rate_spike': 'expiry_rate',
};

/**
 * The extra utilizations the ledger should emit crossings at, per scope: those of every active
 * subscription of the scope's tenant, and of every `__system__` one. Undefined when none asks.
 */
export function extraThresholds(
  subscriptions: Iterable<Selecting>,
): ((scope: string) => readonly number[]) | undefined {
  const byTenant = new Map<string, Set<number>>();
  for (const subscription of subscriptions) {
    const wanted = subscription.thresholds?.budget_utilization;
    if (subscription.status !== 'ACTIVE' || wanted === undefined) continue;
    const set = byTenant.get(subscription.tenant_id) ?? new Set<number>();
    byTenant.set(subscription.tenant_id, set);
    for (const threshold of wanted) set.add(threshold);
  }
  if (byTenant.size === 0) return undefined;
  const everywhere = [...(byTenant.get(SYSTEM_TENANT) ?? [])];
  return (scope) => [...everywhere, ...(byTenant.get(tenantOfScope(scope) ?? '') ?? [])];
}

/**
 * Whether a selected event passes the subscription's thresholds. `ownThresholdsOf` gives the ledger's
 * configured thresholds of a scope (what a subscription without `budget_utilization` receives), and
 * `rateDefaultsOf` its rate spikes' (threshold, window) (what one without the rate fields receives).
 */
export function passesThresholds(
  subscription: Selecting,
  event: ProtocolEvent,
  ownThresholdsOf: ((scope: string) => readonly number[]) | undefined,
  rateDefaultsOf?: (metric: RateMetric) => RateDefaults,
): boolean {
  const data = event.data as Record<string, unknown> | undefined;
  const metric = SPIKE_METRICS[event.event_type];
  if (metric !== undefined) {
    if (rateDefaultsOf === undefined || typeof data?.threshold_rate !== 'number') return true;
    const { threshold, windowMs } = ratePairOf(subscription, metric, rateDefaultsOf(metric));
    return data.threshold_rate === threshold && data.window_seconds === Math.round(windowMs / 1000);
  }
  if (event.event_type === 'budget.threshold_crossed') {
    const threshold = data?.threshold;
    if (typeof threshold !== 'number') return true;
    const wanted = subscription.thresholds?.budget_utilization;
    if (wanted !== undefined) return wanted.includes(threshold);
    return (
      ownThresholdsOf === undefined ||
      event.scope === undefined ||
      ownThresholdsOf(event.scope).includes(threshold)
    );
  }
  if (event.event_type === 'budget.burn_rate_anomaly') {
    const multiplier = subscription.thresholds?.burn_rate_multiplier;
    const current = data?.current_rate;
    const baseline = data?.baseline_rate;
    if (multiplier === undefined || typeof current !== 'number' || typeof baseline !== 'number') return true;
    return current >= multiplier * baseline;
  }
  return true;
}
