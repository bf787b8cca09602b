import type { Ledger, LedgerState } from '@cycles-guard/core';
import type { ReservationDetail } from '@cycles-guard/core/protocol';
import type { SpendReportRow } from '@cycles-guard/core/reports';
import { spendReport } from '@cycles-guard/core/reports';
import type { ActivityItem } from './recent-activity.ts';
import type { SpendStore } from './spend-store.ts';

/**
 * Where the dashboard reads from. `activity` is a function so it can be pointed at another source (the
 * protocol events, `GET /v1/admin/events`) without touching the page.
 */
export interface DashboardSource {
  ledger: Pick<Ledger, 'listLedgers' | 'listReservations'>;
  spend: Pick<SpendStore, 'buckets'>;
  activity: () => Promise<ActivityItem[]> | ActivityItem[];
}

/** The spend chart's window. */
const CHART_MS = 60 * 60_000;
const MAX_BUDGETS = 500;
const MAX_RESERVATIONS = 50;
/** Live reservations are listed per tenant (what every ledger supports), for this many tenants. */
const MAX_TENANTS_LISTED = 20;

/** The tenants the budgets name, in scope order. */
function tenantsOf(ledgers: LedgerState[]): string[] {
  const tenants = ledgers.map((row) => /^tenant:([^/]+)/.exec(row.scope)?.[1]);
  return [...new Set(tenants.filter((tenant) => tenant !== undefined))];
}

function budgetOf(row: LedgerState) {
  const total = row.allocated + row.overdraftLimit;
  const used = row.spent + row.reserved + row.debt;
  return {
    scope: row.scope,
    unit: row.unit,
    allocated: row.allocated,
    spent: row.spent,
    reserved: row.reserved,
    remaining: row.remaining,
    debt: row.debt,
    status: row.status,
    utilization: total > 0 ? used / total : used > 0 ? 1 : 0,
    ...(row.periodEndMs === undefined ? {} : { next_reset: new Date(row.periodEndMs).toISOString() }),
  };
}

function seriesOf(rows: SpendReportRow[], key: 'tenant' | 'model') {
  return rows.map((row) => ({
    start: row.startMs ?? 0,
    key: row[key] === '' || row[key] === undefined ? '(none)' : (row[key] as string),
    unit: row.unit,
    amount: row.amount,
  }));
}

function reservationOf(reservation: ReservationDetail) {
  return {
    id: reservation.reservationId,
    scope: reservation.scopePath,
    action: `${reservation.action.kind} ${reservation.action.name}`,
    reserved: reservation.reserved.amount,
    unit: reservation.reserved.unit,
    created: new Date(reservation.createdAtMs).toISOString(),
    expires: new Date(reservation.expiresAtMs).toISOString(),
  };
}

/** Everything the dashboard shows, in one read-only snapshot. */
export async function dashboardState(source: DashboardSource, nowMs = Date.now()) {
  const [ledgers, activity] = await Promise.all([source.ledger.listLedgers(), source.activity()]);
  const lists = await Promise.all(
    tenantsOf(ledgers)
      .slice(0, MAX_TENANTS_LISTED)
      .map((tenant) =>
        source.ledger.listReservations({ status: 'ACTIVE', tenant, limit: MAX_RESERVATIONS }, { tenant }),
      ),
  );
  const live = lists.flatMap((list) => list.reservations).slice(0, MAX_RESERVATIONS);
  const window = { fromMs: nowMs - CHART_MS, toMs: nowMs + 1, interval: 'minute' as const };
  const charges = await source.spend.buckets(window.fromMs, window.toMs);
  return {
    now: new Date(nowMs).toISOString(),
    budgets: ledgers
      .sort((a, b) => a.scope.localeCompare(b.scope) || a.unit.localeCompare(b.unit))
      .slice(0, MAX_BUDGETS)
      .map(budgetOf),
    spend: {
      from: nowMs - CHART_MS,
      step: 60_000,
      by_tenant: seriesOf(spendReport(charges, { ...window, groupBy: ['tenant'] }).rows, 'tenant'),
      by_model: seriesOf(spendReport(charges, { ...window, groupBy: ['model'] }).rows, 'model'),
    },
    reservations: live.map(reservationOf),
    activity: activity.slice(0, 50).map((item) => ({ ...item, time: new Date(item.timeMs).toISOString() })),
  };
}
