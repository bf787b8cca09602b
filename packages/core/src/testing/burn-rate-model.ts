// The burn-rate anomaly's rule written out plainly (every window's spend kept, the baseline summed afresh
// each time), for randomized tests to compare a ledger's `budget.burn_rate_anomaly` events against.

/** One spend a scope took: when, where, how much. */
export interface ModelSpend {
  atMs: number;
  scope: string;
  amount: number;
}

/** The anomalies the rule expects (in spend order): the scope and the window start of each. */
export function expectedBurnAnomalies(
  spends: readonly ModelSpend[],
  rule: { multiplier: number; windowMs: number; baselineWindows: number },
): { scope: string; windowStartMs: number }[] {
  const scopes = new Map<
    string,
    { byWindow: Map<number, number>; start: number; last: number; fired: Set<number> }
  >();
  const anomalies: { scope: string; windowStartMs: number }[] = [];
  for (const spend of spends) {
    if (spend.amount <= 0) continue;
    const window = Math.floor(spend.atMs / rule.windowMs);
    let scope = scopes.get(spend.scope);
    if (scope === undefined || window - scope.last > rule.baselineWindows) {
      // First spend, or first after a whole baseline of empty windows: history starts here.
      scope = { byWindow: new Map(), start: window, last: window, fired: scope?.fired ?? new Set() };
      scopes.set(spend.scope, scope);
    }
    const count = Math.min(rule.baselineWindows, window - scope.start);
    let sum = 0;
    for (let w = window - count; w < window; w++) sum += scope.byWindow.get(w) ?? 0;
    const baseline = count === 0 ? 0 : sum / count;
    const spent = (scope.byWindow.get(window) ?? 0) + spend.amount;
    scope.byWindow.set(window, spent);
    scope.last = window;
    if (baseline > 0 && !scope.fired.has(window) && spent >= rule.multiplier * baseline) {
      scope.fired.add(window);
      anomalies.push({ scope: spend.scope, windowStartMs: window * rule.windowMs });
    }
  }
  return anomalies;
}
