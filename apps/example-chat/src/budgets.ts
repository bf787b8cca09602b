import { type Cycles, createCycles } from '@cycles-guard/core';

/** Every tenant gets the same daily budget, created from this template on its first call. */
export function createTenantBudgets(dailyBudgetMicrocents: number): Cycles {
  return createCycles({
    templates: [
      {
        pattern: 'tenant:*',
        unit: 'USD_MICROCENTS',
        allocated: dailyBudgetMicrocents,
        window: { period: 'day' },
      },
    ],
  });
}
