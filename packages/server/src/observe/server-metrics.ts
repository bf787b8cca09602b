import type { Ledger, LedgerState } from '@cycles-guard/core';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Which budgets get a utilization series, so the series count stays bounded whatever the traffic. */
export interface BudgetSeriesOptions {
  /**
   * Only ledgers whose scope has at most this many levels (1: tenants, 2: tenant/app, ...).
   * @default 2
   */
  maxScopeDepth?: number;
  /**
   * At most this many budgets (the most utilized first).
   * @default 500
   */
  maxBudgets?: number;
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

function utilization(ledger: LedgerState): number {
  const total = ledger.allocated + ledger.overdraftLimit;
  if (total <= 0) return ledger.spent + ledger.reserved + ledger.debt > 0 ? 1 : 0;
  return (ledger.spent + ledger.reserved + ledger.debt) / total;
}

/**
 * The server's Prometheus metrics, in a registry of its own (two servers in one process do not mix).
 * `eventEmitted` and `webhookDelivery` are the hooks for the protocol events and webhooks.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'operation' | 'status'>;
  readonly #requestSeconds: Histogram<'operation' | 'status'>;
  readonly #ledgerOperations: Counter<'operation' | 'outcome'>;
  readonly #ledgerSeconds: Histogram<'operation'>;
  readonly #events: Counter<'type'>;
  readonly #webhooks: Counter<'outcome'>;

  constructor(ledger: Ledger, options: BudgetSeriesOptions = {}) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.#requests = new Counter({
      name: 'cycles_http_requests_total',
      help: 'HTTP requests answered, by operation (method and route pattern) and status',
      labelNames: ['operation', 'status'],
      registers,
    });
    this.#requestSeconds = new Histogram({
      name: 'cycles_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by operation and status',
      labelNames: ['operation', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#ledgerOperations = new Counter({
      name: 'cycles_ledger_operations_total',
      help: 'Ledger operations, by operation and outcome (ok or the error code)',
      labelNames: ['operation', 'outcome'],
      registers,
    });
    this.#ledgerSeconds = new Histogram({
      name: 'cycles_ledger_operation_duration_seconds',
      help: 'Round trip of one ledger operation',
      labelNames: ['operation'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#events = new Counter({
      name: 'cycles_events_emitted_total',
      help: 'Protocol events emitted, by event type',
      labelNames: ['type'],
      registers,
    });
    this.#webhooks = new Counter({
      name: 'cycles_webhook_deliveries_total',
      help: 'Webhook delivery attempts, by outcome (delivered, failed, retried, dropped, overflow)',
      labelNames: ['outcome'],
      registers,
    });
    const maxDepth = options.maxScopeDepth ?? 2;
    const maxBudgets = options.maxBudgets ?? 500;
    // One listLedgers per scrape, shared by the three gauges, the series bounded by depth and count.
    let snapshot: { atMs: number; rows: Promise<LedgerState[]> } | undefined;
    const budgets = () => {
      const now = Date.now();
      if (snapshot === undefined || now - snapshot.atMs > 1000) {
        const rows = ledger.listLedgers().then((all) =>
          all
            .filter((row) => row.scope.split('/').length <= maxDepth)
            .sort((a, b) => utilization(b) - utilization(a))
            .slice(0, maxBudgets),
        );
        snapshot = { atMs: now, rows };
      }
      return snapshot.rows;
    };
    const gauge = (name: string, help: string, value: (row: LedgerState) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['scope', 'unit'],
        registers,
        async collect() {
          const rows = await budgets();
          this.reset();
          for (const row of rows) this.set({ scope: row.scope, unit: row.unit }, value(row));
        },
      });
    gauge(
      'cycles_budget_utilization_ratio',
      '(spent + reserved + debt) / (allocated + overdraft limit), per budget (bounded: see README)',
      utilization,
    );
    gauge('cycles_budget_spent', "The budget's spent amount, in its unit", (row) => row.spent);
    gauge('cycles_budget_allocated', "The budget's allocated amount, in its unit", (row) => row.allocated);
  }

  request(operation: string, status: number, seconds: number): void {
    const labels = { operation, status: String(status) };
    this.#requests.inc(labels);
    this.#requestSeconds.observe(labels, seconds);
  }

  ledgerOperation(operation: string, outcome: string, seconds: number): void {
    this.#ledgerOperations.inc({ operation, outcome });
    this.#ledgerSeconds.observe({ operation }, seconds);
  }

  /** Hook: a protocol event was emitted (the events store calls it). */
  eventEmitted(type: string): void {
    this.#events.inc({ type });
  }

  /** Hook: a webhook delivery attempt ended (`delivered`, `failed`, `retried` or `dropped`). */
  webhookDelivery(outcome: string): void {
    this.#webhooks.inc({ outcome });
  }
}
