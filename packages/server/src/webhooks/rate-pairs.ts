import { SYSTEM_TENANT } from '@cycles-guard/core/ledger-kit';
import {
  type BurnPair,
  burnPairOf,
  type RateDefaults,
  ratePairOf,
  type Selecting,
  type WatchedMetric,
} from './thresholds.ts';

// Which (threshold, window) and (multiplier, window) pairs the rate watch judges for a tenant: the
// configured pair, and those of every active subscription of the tenant and of `__system__` that
// receives the alert (GOV `WebhookThresholdConfig`), grouped by window length.

/** The alert each watched rate raises, and its category (a subscription may select either). */
export const SPIKES = {
  denial_rate: { type: 'reservation.denial_rate_spike', category: 'reservation' },
  expiry_rate: { type: 'reservation.expiry_rate_spike', category: 'reservation' },
  auth_failure_rate: { type: 'api_key.auth_failure_rate_spike', category: 'api_key' },
} as const;

/** The active subscriptions by tenant, read once per flush. */
export class WatchedPairs {
  private readonly byTenant = new Map<string, Selecting[]>();

  constructor(subscriptions: Iterable<Selecting>) {
    for (const subscription of subscriptions) {
      if (subscription.status !== 'ACTIVE') continue;
      const list = this.byTenant.get(subscription.tenant_id) ?? [];
      list.push(subscription);
      this.byTenant.set(subscription.tenant_id, list);
    }
  }

  /** Window length → the thresholds judged on it, for a tenant's rate. */
  rateWindows(tenant: string, metric: WatchedMetric, defaults: RateDefaults): Map<number, number[]> {
    const byWindow = new Map<number, number[]>([[defaults.windowMs, [defaults.threshold]]]);
    const { type, category } = SPIKES[metric];
    for (const subscription of this.selecting(tenant, type, category)) {
      const { threshold, windowMs } = ratePairOf(subscription, metric, defaults);
      add(byWindow, windowMs, threshold);
    }
    return byWindow;
  }

  /** Window length → the multipliers judged on it, for a tenant's spends. */
  burnWindows(tenant: string, ledger: BurnPair): Map<number, number[]> {
    const byWindow = new Map<number, number[]>([[ledger.windowMs, [ledger.multiplier]]]);
    for (const subscription of this.selecting(tenant, 'budget.burn_rate_anomaly', 'budget')) {
      const { multiplier, windowMs } = burnPairOf(subscription, ledger);
      add(byWindow, windowMs, multiplier);
    }
    return byWindow;
  }

  /** The active subscriptions that receive `type`: the tenant's and `__system__`'s. */
  private *selecting(tenant: string, type: string, category: string): Iterable<Selecting> {
    for (const owner of new Set([tenant, SYSTEM_TENANT])) {
      for (const subscription of this.byTenant.get(owner) ?? []) {
        if (
          subscription.event_types.includes(type) ||
          (subscription.event_categories ?? []).includes(category)
        ) {
          yield subscription;
        }
      }
    }
  }
}

function add(byWindow: Map<number, number[]>, windowMs: number, value: number): void {
  const values = byWindow.get(windowMs) ?? [];
  if (!values.includes(value)) values.push(value);
  byWindow.set(windowMs, values);
}
