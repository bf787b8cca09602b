import type { Ledger } from '@cycles-guard/core';
import { SpendLog } from '@cycles-guard/core/reports';
import type { RedisLedger } from '@cycles-guard/redis';
import type { LedgerStoreConfig } from '../config.ts';
import { RedisSpendStore } from './redis-spend-store.ts';
import { MemorySpendStore, type SpendStore } from './spend-store.ts';

/** Spend lives beside the ledger: in its Redis (shared by every server on it) or in this process. */
export function openSpendStore(ledger: Ledger, store: LedgerStoreConfig | undefined): SpendStore {
  if (store?.type === 'redis' && 'client' in ledger) {
    return new RedisSpendStore((ledger as RedisLedger).client, { prefix: store.keyPrefix ?? 'cycles:' });
  }
  return new MemorySpendStore(new SpendLog());
}
