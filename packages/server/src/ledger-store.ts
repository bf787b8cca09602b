import { CyclesError, createMemoryLedger, type Ledger } from '@cycles-guard/core';
import type { Clock, LedgerConfig } from '@cycles-guard/core/ledger-kit';
import { createRedisLedger } from '@cycles-guard/redis';
import type { LedgerStoreConfig, TemplateBounds } from './config.ts';

/**
 * Opens the configured ledger: in memory, or the shared Redis ledger (seeded from the config). `clock`
 * drives either (tests); without it the memory ledger uses the system clock and Redis its own `TIME`.
 * Template bounds apply per tenant key (a runtime call's tenant is its key's).
 */
export async function openLedger(
  store: LedgerStoreConfig,
  budgets: LedgerConfig,
  clock?: Clock,
  bounds: TemplateBounds = {},
): Promise<Ledger> {
  const limits = {
    ...(bounds.maxTemplateLedgers === undefined ? {} : { maxTemplateLedgers: bounds.maxTemplateLedgers }),
    ...(bounds.maxTemplateLedgersPerTenant === undefined
      ? {}
      : { maxTemplateLedgersPerTenant: bounds.maxTemplateLedgersPerTenant }),
  };
  const events = bounds.events ?? {};
  if (store.type === 'memory') {
    return createMemoryLedger({ ...budgets, ...limits, events, ...(clock === undefined ? {} : { clock }) });
  }
  const ledger = createRedisLedger({
    ...limits,
    events, // the server lists events and sends webhooks (the library leaves them off by default)
    ...('cluster' in store ? { cluster: store.cluster } : { url: store.url }),
    ...(store.keyPrefix === undefined ? {} : { keyPrefix: store.keyPrefix }),
    ...(clock === undefined ? {} : { clock }),
  });
  await seedLedger(ledger, budgets);
  return ledger;
}

/**
 * Provisions a shared ledger from the config without touching budgets that already exist: a restart (or
 * a second server on the same Redis) must never reset what has been spent. Tenants and templates are
 * (re)applied, so edits to them take effect.
 */
export async function seedLedger(ledger: Ledger, budgets: LedgerConfig): Promise<void> {
  for (const [tenant, settings] of Object.entries(budgets.tenants)) await ledger.setTenant(tenant, settings);
  for (const template of budgets.templates) await ledger.addTemplate(template);
  for (const definition of budgets.ledgers) {
    try {
      await ledger.createLedger(definition);
    } catch (error) {
      // 409: it exists already; keep its live state.
      if (!(CyclesError.isInstance(error) && error.status === 409)) throw error;
    }
  }
}
