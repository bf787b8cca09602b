import { InvalidRequestError } from '@cycles-guard/core';
import { SYSTEM_TENANT, tenantOfScope } from '@cycles-guard/core/ledger-kit';
import type { ProtocolEvent } from '@cycles-guard/core/webhooks';

// GOV `WebhookThresholdConfig`, per subscription. `budget_utilization` is applied at both ends: the
// ledger also emits `budget.threshold_crossed` at those utilizations for the subscription's tenant (all
// tenants for `__system__`), and the subscription receives the crossings of its own list only. A
// subscription without the field receives the crossings the ledger's config sets (80 % and 95 % unless
// configured). Every other field is applied at both ends as well, through the server's rate watch
// (`rate-watch.ts`): the tenant (every tenant for `__system__`) is also watched at the subscription's
// (`denial_rate_threshold` | `expiry_rate_threshold` | `auth_failure_rate_threshold`,
// `rate_window_seconds`) pair and at its (`burn_rate_multiplier`, `burn_rate_window_seconds`) pair, and
// the subscription receives the spikes and anomalies of its own pairs only, an omitted field taking the
// ledger's configured value.

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

/** A rate the ledger samples (its config sets the defaults). */
export type RateMetric = 'denial_rate' | 'expiry_rate';

/** A rate whose spikes the server watches: the ledger's, and the auth failure rate. */
export type WatchedMetric = RateMetric | 'auth_failure_rate';

/**
 * The auth failure rate's defaults (GOV `WebhookThresholdConfig`): a share of 10 % of the auth attempts
 * of a 300 s window, with at least 20 attempts. Auth happens in the server, not the ledger: no config.
 */
export const AUTH_RATE_DEFAULTS = { threshold: 0.1, windowMs: 300_000, minSamples: 20 } as const;

const THRESHOLD_FIELDS = {
  denial_rate: 'denial_rate_threshold',
  expiry_rate: 'expiry_rate_threshold',
  auth_failure_rate: 'auth_failure_rate_threshold',
} as const;

/** A rate's (threshold, window) as the ledger's config sets it. */
export interface RateDefaults {
  threshold: number;
  windowMs: number;
}

/** The (threshold, window) a subscription watches a rate at: its own fields, else the defaults. */
export function ratePairOf(
  subscription: Selecting,
  metric: WatchedMetric,
  defaults: RateDefaults,
): RateDefaults {
  const own = subscription.thresholds;
  const threshold = own?.[THRESHOLD_FIELDS[metric]];
  const seconds = own?.rate_window_seconds;
  return {
    threshold: threshold ?? defaults.threshold,
    windowMs: seconds === undefined ? defaults.windowMs : seconds * 1000,
  };
}

/** The burn-rate anomaly's (multiplier, window): the ledger's, or a subscription's. */
export interface BurnPair {
  multiplier: number;
  windowMs: number;
}

/** The (multiplier, window) a subscription watches burn rates at: its own fields, else the defaults. */
export function burnPairOf(subscription: Selecting, defaults: BurnPair): BurnPair {
  const own = subscription.thresholds;
  return {
    multiplier: own?.burn_rate_multiplier ?? defaults.multiplier,
    windowMs:
      own?.burn_rate_window_seconds === undefined ? defaults.windowMs : own.burn_rate_window_seconds * 1000,
  };
}

/**
 * The tail of a watched anomaly's correlation id naming its pair, each value starred when it is the
 * ledger's (`…:300s*:x5`): so a subscription's filter knows its pair without the ledger's settings.
 */
export function burnPairTag(pair: BurnPair, ledger: BurnPair): string {
  const star = (own: boolean) => (own ? '*' : '');
  const seconds = Math.round(pair.windowMs / 1000);
  return `:${seconds}s${star(pair.windowMs === ledger.windowMs)}:x${pair.multiplier}${star(pair.multiplier === ledger.multiplier)}`;
}

const BURN_TAG = /:(\d+)s(\*?):x([^:*]+)(\*?)$/;

/** Whether a watched anomaly (its correlation id) is of the subscription's own pair. */
function isOwnBurnPair(subscription: Selecting, correlationId: string): boolean {
  const tag = BURN_TAG.exec(correlationId);
  if (tag === null) return false;
  const [, seconds, ledgerWindow, multiplier, ledgerMultiplier] = tag;
  const own = subscription.thresholds;
  const windowMatches =
    own?.burn_rate_window_seconds === undefined
      ? ledgerWindow === '*'
      : own.burn_rate_window_seconds === Number(seconds);
  const multiplierMatches =
    own?.burn_rate_multiplier === undefined
      ? ledgerMultiplier === '*'
      : own.burn_rate_multiplier === Number(multiplier);
  return windowMatches && multiplierMatches;
}

const SPIKE_METRICS: Record<string, WatchedMetric> = {
  'reservation.denial_rate_spike': 'denial_rate',
  'reservation.expiry_rate_spike': 'expiry_rate',
  'api_key.auth_failure_rate_spike': 'auth_failure_rate',
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
    if (typeof data?.threshold_rate !== 'number') return true;
    const defaults = metric === 'auth_failure_rate' ? AUTH_RATE_DEFAULTS : rateDefaultsOf?.(metric);
    if (defaults === undefined) return true;
    const { threshold, windowMs } = ratePairOf(subscription, metric, defaults);
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
    // Watched per pair (the server's rate watch): the anomaly of the subscription's own pair, once.
    if (event.correlation_id?.startsWith('burn_rate:') === true && BURN_TAG.test(event.correlation_id)) {
      return isOwnBurnPair(subscription, event.correlation_id);
    }
    const multiplier = subscription.thresholds?.burn_rate_multiplier;
    const current = data?.current_rate;
    const baseline = data?.baseline_rate;
    if (multiplier === undefined || typeof current !== 'number' || typeof baseline !== 'number') return true;
    return current >= multiplier * baseline;
  }
  return true;
}
