import type { Ledger } from '@cycles-guard/core';
import { recordSpend, SpendLog } from '@cycles-guard/core/reports';
import type { FastifyInstance } from 'fastify';
import type { ApiKeyRegistry } from '../api-keys.ts';
import { registerDashboardRoutes } from '../routes/dashboard.ts';
import { registerMetricsRoutes } from '../routes/metrics.ts';
import { registerReportRoutes } from '../routes/reports.ts';
import { observeLedger } from './observed-ledger.ts';
import { RecentActivity } from './recent-activity.ts';
import { type BudgetSeriesOptions, ServerMetrics } from './server-metrics.ts';
import { MemorySpendStore, type SpendStore } from './spend-store.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Prometheus metrics; `eventEmitted` and `webhookDelivery` are hooks for events and webhooks. */
    cyclesMetrics: ServerMetrics;
  }
}

/** What the server's observability reads and records into (the demo passes its own). */
export interface ObservabilityOptions {
  /** Charges for spend reports, kept in this process (`spendStore` wins). @default a new log */
  spendLog?: SpendLog;
  /**
   * Where this server records the charges it confirms and reads spend reports from.
   * @default in the ledger's Redis when the ledger is Redis (shared by every server), else `spendLog`
   */
  spendStore?: SpendStore;
  /** Denials and cuts for the dashboard. @default a new one, fed by this server's reserves */
  activity?: RecentActivity;
  /** Which budgets `/metrics` reports utilization for. */
  budgetSeries?: BudgetSeriesOptions;
}

/**
 * Registers `/metrics`, the spend report and the dashboard; answers the ledger the runtime routes must
 * use (timed, and recording charges and refusals).
 */
export function setUpObservability(
  app: FastifyInstance,
  ledger: Ledger,
  keys: ApiKeyRegistry,
  options: ObservabilityOptions = {},
): Ledger {
  const spend = options.spendStore ?? new MemorySpendStore(options.spendLog ?? new SpendLog());
  const activity = options.activity ?? new RecentActivity();
  const metrics = new ServerMetrics(ledger, options.budgetSeries);
  app.decorate('cyclesMetrics', metrics);
  registerMetricsRoutes(app, metrics, keys);
  registerReportRoutes(app, spend, keys);
  registerDashboardRoutes(app, { ledger, spend, activity: () => activity.list() }, keys);
  app.addHook('onClose', async () => spend.close());
  // The ledger's protocol events: counted on /metrics, budget alerts shown on the dashboard.
  const unsubscribe = ledger.events?.subscribe((event) => {
    metrics.eventEmitted(event.event_type);
    activity.onProtocolEvent(event);
  });
  if (unsubscribe !== undefined) app.addHook('onClose', async () => unsubscribe());
  // Spend is recorded on the ledger itself, so its read-backs do not count as requests' operations.
  return observeLedger(recordSpend(ledger, spend), metrics, activity);
}
