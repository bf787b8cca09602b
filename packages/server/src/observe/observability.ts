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

declare module 'fastify' {
  interface FastifyInstance {
    /** Prometheus metrics; `eventEmitted` and `webhookDelivery` are hooks for events and webhooks. */
    cyclesMetrics: ServerMetrics;
  }
}

/** What the server's observability reads and records into (the demo passes its own). */
export interface ObservabilityOptions {
  /** Charges for spend reports. @default a new log, fed by this server's commits and events */
  spendLog?: SpendLog;
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
  const spendLog = options.spendLog ?? new SpendLog();
  const activity = options.activity ?? new RecentActivity();
  const metrics = new ServerMetrics(ledger, options.budgetSeries);
  app.decorate('cyclesMetrics', metrics);
  registerMetricsRoutes(app, metrics, keys);
  registerReportRoutes(app, spendLog, keys);
  registerDashboardRoutes(app, { ledger, spendLog, activity: () => activity.list() }, keys);
  // The ledger's protocol events: counted on /metrics, budget alerts shown on the dashboard.
  const unsubscribe = ledger.events?.subscribe((event) => {
    metrics.eventEmitted(event.event_type);
    activity.onProtocolEvent(event);
  });
  if (unsubscribe !== undefined) app.addHook('onClose', async () => unsubscribe());
  // Spend is recorded on the ledger itself, so its read-backs do not count as requests' operations.
  return observeLedger(recordSpend(ledger, spendLog), metrics, activity);
}
