import { type Balance, type Cycles, type Ledger, subjectBalances } from '@cycles-guard/core';
import { windowBounds } from '@cycles-guard/core/ledger-kit';

/** One budget of a tenant, as the balances endpoint reports it. */
export interface BalanceView {
  scope: string;
  unit: string;
  allocated: number;
  spent: number;
  reserved: number;
  remaining: number;
  /** When the daily window resets (UTC midnight). */
  resetsAt: string;
}

/** A ledger balance as the API shows it. A tenant's budget exists once its first guarded call created it. */
export function toBalanceView(balance: Balance, now = Date.now()): BalanceView {
  return {
    scope: balance.scopePath,
    unit: balance.remaining.unit,
    allocated: balance.allocated?.amount ?? 0,
    spent: balance.spent?.amount ?? 0,
    reserved: balance.reserved?.amount ?? 0,
    remaining: balance.remaining.amount,
    resetsAt: new Date(windowBounds({ period: 'day' }, now).endMs).toISOString(),
  };
}

/**
 * The tenant's budgets, straight from the ledger. A tenant's budget is created from the template on its
 * first guarded call, so a tenant that never called has none yet.
 */
export async function tenantBalances(cycles: Cycles, tenant: string): Promise<BalanceView[]> {
  const { balances } = await cycles.authority.getBalances({ tenant, limit: 200 });
  const now = Date.now();
  return subjectBalances(balances, { tenant }).map((balance) => toBalanceView(balance, now));
}

/** A budget alert as the alerts endpoint reports it. */
export interface AlertView {
  type: string;
  at: string;
  scope: string | undefined;
  threshold: number | undefined;
  utilization: number | undefined;
}

/** The tenant's budget alerts (thresholds crossed, exhaustion), newest first, from the ledger's events. */
export async function tenantAlerts(cycles: Cycles, tenant: string): Promise<AlertView[]> {
  const events = (cycles.authority as Partial<Ledger>).events;
  if (events === undefined) return [];
  const page = await events.list({ tenant, category: 'budget', limit: 50 });
  return page.events
    .filter(
      (event) => event.event_type === 'budget.threshold_crossed' || event.event_type === 'budget.exhausted',
    )
    .map((event) => ({
      type: event.event_type,
      at: event.timestamp,
      scope: event.scope,
      threshold: event.data?.threshold as number | undefined,
      utilization: event.data?.utilization as number | undefined,
    }));
}
