import {
  type Clock,
  CyclesError,
  createMemoryLedger,
  InvalidConfigError,
  type Ledger,
  type LedgerConfig,
} from '@cycles-guard/core';
import type { LedgerStoreConfig } from './config.ts';

/** What `@cycles-guard/redis` provides: a core `Ledger` on Redis, with `close()`. */
interface RedisModule {
  createRedisLedger(options: { url: string; keyPrefix?: string }): Ledger & { close(): Promise<void> };
}

async function importRedis(): Promise<RedisModule> {
  // A variable specifier: the Redis package is loaded only when a config asks for it.
  const specifier: string = '@cycles-guard/redis';
  const module = (await import(specifier)) as Partial<RedisModule>;
  if (typeof module.createRedisLedger !== 'function') {
    throw new InvalidConfigError('@cycles-guard/redis has no createRedisLedger export: update it', {
      details: { field: 'ledger.type' },
    });
  }
  return module as RedisModule;
}

/** Opens the configured ledger: in memory (driven by `clock`), or the shared Redis ledger. */
export async function openLedger(
  store: LedgerStoreConfig,
  budgets: LedgerConfig,
  clock?: Clock,
): Promise<Ledger> {
  if (store.type === 'memory') {
    return createMemoryLedger({ ...budgets, ...(clock === undefined ? {} : { clock }) });
  }
  const { createRedisLedger } = await importRedis();
  const ledger = createRedisLedger(
    store.keyPrefix === undefined ? { url: store.url } : { url: store.url, keyPrefix: store.keyPrefix },
  );
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
