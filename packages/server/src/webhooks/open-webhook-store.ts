import type { Ledger } from '@cycles-guard/core';
import type { RedisLedger } from '@cycles-guard/redis';
import type { LedgerStoreConfig } from '../config.ts';
import { RedisWebhookStore } from './redis-webhook-store.ts';
import { MemoryWebhookStore, type WebhookStore } from './webhook-store.ts';

/** Webhooks live beside the ledger: in its Redis (durable, shared by servers) or in memory. */
export function openWebhookStore(ledger: Ledger, store: LedgerStoreConfig): WebhookStore {
  if (store.type === 'redis' && 'client' in ledger) {
    return new RedisWebhookStore((ledger as RedisLedger).client, store.keyPrefix ?? 'cycles:');
  }
  return new MemoryWebhookStore();
}
