import type { Clock } from '../../clock.ts';
import type { Unit } from '../../protocol/enums.ts';
import { invalid } from '../../protocol/errors.ts';
import { type EventDraft, SYSTEM_TENANT, tenantOfScope } from './event-types.ts';

// `budget.burn_rate_anomaly` (GOV `EventDataBurnRateAnomaly`). The rule, per (scope, unit):
// - time is cut into tumbling windows of `windowMs`, aligned to the epoch (deterministic on a ManualClock);
// - a window's spend is what commits and events charged the scope in it;
// - the baseline is the mean spend of the `baselineWindows` windows before the current one, counting only
//   windows since the scope's history began: its first spend, or its first spend after a whole baseline
//   of empty windows (an idle scope starts afresh);
// - the anomaly fires once per window, at the spend that brings the window's spend to at least
//   `multiplier` x the baseline, when the baseline is above zero.
// Rates on the wire are per minute: a window's spend / its length in minutes.

/** Settings of the burn-rate anomaly (defaults: GOV `WebhookThresholdConfig`). */
export interface BurnRateOptions {
  /** Spend over baseline that fires, at least 1.5. Default 3.0. */
  multiplier?: number;
  /** Window length, 60 s to 1 day. Default 300 s. */
  windowMs?: number;
  /** Windows the baseline averages, 1 to 288. Default 12 (an hour of 5-minute windows). */
  baselineWindows?: number;
  /**
   * Scopes of one tenant watched at once (default 1,000), so a tenant making many scopes cannot grow
   * this without bound. Past it, idle scopes are forgotten first; if none is idle, the new scope is not
   * watched (no anomaly for it) until one is. Other tenants are never affected.
   */
  maxScopesPerTenant?: number;
  /** Tenants watched at once (default 10,000); past it, the same rule as for scopes. */
  maxTenants?: number;
}

/** What one scope's burn rate remembers: its window ring and the current window's spend. */
export interface BurnState {
  /** Dropped by the bounds: a holder caching it must ask again. */
  forgotten: boolean;
  /** Spend of the `baselineWindows` windows before `window`, at index `w % baselineWindows`. */
  history: number[];
  /** Windows of history (at most `baselineWindows`). */
  depth: number;
  window: number;
  spent: number;
  /** Spend at which the current window fires (Infinity: no baseline, or fired already). */
  fireAt: number;
  baseline: number;
}

/** The scope's balance when it spent (for the payload's projection). */
export interface BurnSpend {
  scope: string;
  unit: Unit;
  amount: number;
  remaining: number;
}

export function burnSettings(options: BurnRateOptions | undefined): Required<BurnRateOptions> {
  const {
    multiplier = 3,
    windowMs = 300_000,
    baselineWindows = 12,
    maxScopesPerTenant = 1000,
    maxTenants = 10_000,
  } = options ?? {};
  if (typeof multiplier !== 'number' || !(multiplier >= 1.5 && multiplier < Number.POSITIVE_INFINITY)) {
    throw invalid(
      'burnRate.multiplier',
      'must be a number of at least 1.5',
      'e.g. 3 (three times the baseline)',
    );
  }
  if (!Number.isSafeInteger(windowMs) || windowMs < 60_000 || windowMs > 86_400_000) {
    throw invalid('burnRate.windowMs', 'must be an integer from 60,000 to 86,400,000', 'e.g. 300000 (5 min)');
  }
  if (!Number.isSafeInteger(baselineWindows) || baselineWindows < 1 || baselineWindows > 288) {
    throw invalid('burnRate.baselineWindows', 'must be an integer from 1 to 288', 'e.g. 12');
  }
  for (const [name, value] of [
    ['maxScopesPerTenant', maxScopesPerTenant],
    ['maxTenants', maxTenants],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw invalid(`burnRate.${name}`, 'must be a positive integer', 'e.g. 1000');
    }
  }
  return { multiplier, windowMs, baselineWindows, maxScopesPerTenant, maxTenants };
}

/** The burn rates of every watched scope, by tenant. */
export class BurnRates {
  private readonly tenants = new Map<string, Map<string, BurnState>>();

  constructor(
    readonly settings: Required<BurnRateOptions>,
    private readonly clock: Clock,
  ) {}

  /**
   * Counts a spend; returns the anomaly when this spend is the one that brings the window over. `holder`
   * (the scope's event state) caches the scope's burn state, sparing the lookups on the hot path. `nowMs`:
   * the operation's clock reading, when the caller has one.
   */
  spent(spend: BurnSpend, holder?: { burn?: BurnState | undefined }, nowMs?: number): EventDraft | undefined {
    if (!(spend.amount > 0)) return undefined;
    const window = Math.floor((nowMs ?? this.clock.now()) / this.settings.windowMs);
    let state = holder?.burn;
    if (state === undefined || state.forgotten) {
      state = this.stateOf(spend, window);
      if (holder !== undefined) holder.burn = state;
      if (state === undefined) return undefined;
    }
    if (state.window !== window) this.roll(state, window);
    state.spent += spend.amount;
    if (state.spent < state.fireAt) return undefined;
    state.fireAt = Number.POSITIVE_INFINITY;
    return this.anomaly(spend, state, window);
  }

  /** Moves a scope's state to `window`: the finished window into the ring, empty ones between as 0. */
  private roll(state: BurnState, window: number): void {
    const size = this.settings.baselineWindows;
    if (window - state.window > size) {
      // A whole baseline of empty windows: the scope starts afresh.
      state.depth = 0;
    } else {
      state.history[state.window % size] = state.spent;
      for (let w = state.window + 1; w < window; w++) state.history[w % size] = 0;
      state.depth = Math.min(size, state.depth + (window - state.window));
    }
    state.window = window;
    state.spent = 0;
    let sum = 0;
    for (let back = 1; back <= state.depth; back++) sum += state.history[(window - back) % size]!;
    state.baseline = state.depth === 0 ? 0 : sum / state.depth;
    state.fireAt = state.baseline > 0 ? this.settings.multiplier * state.baseline : Number.POSITIVE_INFINITY;
  }

  private anomaly(spend: BurnSpend, state: BurnState, window: number): EventDraft {
    const minutes = this.settings.windowMs / 60_000;
    const current = state.spent / minutes;
    const baseline = state.baseline / minutes;
    return {
      type: 'budget.burn_rate_anomaly',
      tenant: tenantOfScope(spend.scope),
      scope: spend.scope,
      correlationId: `burn_rate:${spend.scope}:${spend.unit}:${window * this.settings.windowMs}`,
      data: {
        scope: spend.scope,
        unit: spend.unit,
        current_rate: current,
        baseline_rate: baseline,
        multiplier: current / baseline,
        window_seconds: Math.round(this.settings.windowMs / 1000),
        projected_exhaustion_minutes: spend.remaining > 0 ? spend.remaining / current : 0,
      },
    };
  }

  /** The scope's state, made on first spend; undefined past the caps (after forgetting idle scopes). */
  private stateOf(spend: BurnSpend, window: number): BurnState | undefined {
    const tenant = tenantOfScope(spend.scope) ?? SYSTEM_TENANT;
    let scopes = this.tenants.get(tenant);
    if (scopes === undefined) {
      if (this.tenants.size >= this.settings.maxTenants && !this.forgetIdleTenants(window)) return undefined;
      scopes = new Map();
      this.tenants.set(tenant, scopes);
    }
    const key = `${spend.scope}|${spend.unit}`;
    let state = scopes.get(key);
    if (state !== undefined) return state;
    if (scopes.size >= this.settings.maxScopesPerTenant && !this.forgetIdle(scopes, window)) return undefined;
    state = {
      forgotten: false,
      history: [],
      depth: 0,
      window,
      spent: 0,
      fireAt: Number.POSITIVE_INFINITY,
      baseline: 0,
    };
    scopes.set(key, state);
    return state;
  }

  /** Idle: a whole baseline of empty windows since its last spend, so it would start afresh anyway. */
  private isIdle(state: BurnState, window: number): boolean {
    return window - state.window > this.settings.baselineWindows;
  }

  private forgetIdle(scopes: Map<string, BurnState>, window: number): boolean {
    const size = scopes.size;
    for (const [key, state] of scopes) {
      if (!this.isIdle(state, window)) continue;
      state.forgotten = true;
      scopes.delete(key);
    }
    return scopes.size < size;
  }

  private forgetIdleTenants(window: number): boolean {
    const size = this.tenants.size;
    for (const [tenant, scopes] of this.tenants) {
      this.forgetIdle(scopes, window);
      if (scopes.size === 0) this.tenants.delete(tenant);
    }
    return this.tenants.size < size;
  }
}
