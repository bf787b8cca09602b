import type { Ledger } from '@cycles-guard/core';
import { type RedisLedger, whenConnected } from '@cycles-guard/redis';
import type { LedgerStoreConfig } from '../config.ts';

// Which PUT created a tenant, decided once for every server: the first successful
// `PUT /v1/admin/tenants/{tenant}` to claim the tenant reports `tenant.created`. Reading the settings
// before the write cannot decide it: two concurrent PUTs both read "none", and on Redis a tenant set
// with empty settings stores no hash, so it reads as never set on every retry.

/** Claims tenants' creation; `claim` is true for the first caller only, across servers on Redis. */
export interface TenantCreations {
  claim(tenant: string): Promise<boolean>;
}

/** In this process (the memory ledger's tenants live and die with it). */
export class MemoryTenantCreations implements TenantCreations {
  private readonly claimed = new Set<string>();

  async claim(tenant: string): Promise<boolean> {
    if (this.claimed.has(tenant)) return false;
    this.claimed.add(tenant);
    return true;
  }
}

/** One `HSETNX` on a hash beside the ledger: atomic, so exactly one server's PUT wins. */
export class RedisTenantCreations implements TenantCreations {
  constructor(
    private readonly client: RedisLedger['client'],
    private readonly key: string,
  ) {}

  async claim(tenant: string): Promise<boolean> {
    await whenConnected(this.client);
    return (await this.client.hsetnx(this.key, tenant, String(Date.now()))) === 1;
  }
}

/** Claims beside the ledger: in its Redis (`<prefix>tenants:created`), or in this process. */
export function openTenantCreations(ledger: Ledger, store: LedgerStoreConfig): TenantCreations {
  if (store.type === 'redis' && 'client' in ledger) {
    return new RedisTenantCreations(
      (ledger as RedisLedger).client,
      `${store.keyPrefix ?? 'cycles:'}tenants:created`,
    );
  }
  return new MemoryTenantCreations();
}
