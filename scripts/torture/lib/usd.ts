// A tenant budgeted in USD_MICROCENTS for guarded LLM calls (`createCycles` + `beginLlmCall`).

import { type BudgetAuthority, type Cycles, createCycles } from './packages.ts';
import type { Target } from './targets.ts';

/** A priced Bedrock model of the built-in catalog. */
export const MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';

export interface UsdTenant {
  name: string;
  authority: BudgetAuthority;
  cycles: Cycles;
  /** Spent and reserved on the tenant's budget, read through its own authority. */
  counters(): Promise<{ spent: number; reserved: number }>;
}

/** Provisions `tenant:<name>` with `allocated` µ¢ and a Cycles instance over the target as that tenant. */
export async function usdTenant(target: Target, name: string, ttlMs = 60_000): Promise<UsdTenant> {
  await target.admin.createLedger({
    scope: `tenant:${name}`,
    unit: 'USD_MICROCENTS',
    allocated: 10_000_000_000,
  });
  const authority = await target.authority(name);
  const cycles = createCycles({
    authority,
    subject: { tenant: name },
    heartbeat: false,
    ttlMs,
    gracePeriodMs: 5000,
    retry: { attempts: 2, baseDelayMs: 10 },
  });
  return {
    name,
    authority,
    cycles,
    async counters() {
      const { balances } = await authority.getBalances({ tenant: name });
      const balance = balances.find((candidate) => candidate.scopePath === `tenant:${name}`);
      return { spent: balance?.spent?.amount ?? 0, reserved: balance?.reserved?.amount ?? 0 };
    },
  };
}
