import { type Cycles, createCycles, createMemoryLedger } from '@cycles-guard/core';
import { createWebhookSink } from '@cycles-guard/core/webhooks';

/** Where the 80 % and 95 % budget alerts are posted (signed as a Cycles server signs its webhooks). */
export interface BudgetAlertWebhook {
  url: string;
  secret: string;
  /** Allow `http://` (local receivers only). */
  allowHttp?: boolean;
}

/**
 * Every tenant gets the same daily budget, created from this template on its first call. The ledger
 * reports each tenant's 80 % and 95 % crossings (once a day each) and its exhaustion as protocol
 * events: listed by `tenantAlerts`, and posted to `alerts` when given.
 */
export function createTenantBudgets(dailyBudgetMicrocents: number, alerts?: BudgetAlertWebhook): Cycles {
  const sink =
    alerts === undefined
      ? undefined
      : createWebhookSink({
          url: alerts.url,
          secret: alerts.secret,
          allowHttp: alerts.allowHttp === true,
          eventTypes: ['budget.threshold_crossed', 'budget.exhausted'],
        });
  const ledger = createMemoryLedger({
    templates: [
      {
        pattern: 'tenant:*',
        unit: 'USD_MICROCENTS',
        allocated: dailyBudgetMicrocents,
        window: { period: 'day' },
      },
    ],
    events: { thresholds: [0.8, 0.95], ...(sink === undefined ? {} : { onEvent: sink.send }) },
  });
  return createCycles({ authority: ledger });
}
