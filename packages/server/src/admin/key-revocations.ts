import type { Ledger } from '@cycles-guard/core';
import { type RedisLedger, whenConnected } from '@cycles-guard/redis';
import type { LedgerStoreConfig } from '../config.ts';

// Which close reports `api_key.revoked_via_tenant_cascade` for a key, decided once for every server and
// every re-run: the cascade claims each (tenant, key) just before it publishes the key's event, and
// publishes it only for the keys it claimed. So a close cut off between the flip and its events leaves
// the keys unclaimed and the re-close or the startup sweep reports them, once; a key already reported
// is never reported again, whichever server re-closes. (A crash between the claim and the publish loses
// that key's event: at most once, as `tenant.created`.)

/** Claims keys' revocation events; `claim` answers the keys no one had claimed, across servers on Redis. */
export interface KeyRevocations {
  claim(tenant: string, keyIds: readonly string[]): Promise<string[]>;
}

/** Claims of each memory ledger, kept as long as it lives (a server started again over it sees them). */
const claimsOfLedger = new WeakMap<Ledger, Set<string>>();

/** In this process, beside the memory ledger (whose tenants live and die with it). */
export class MemoryKeyRevocations implements KeyRevocations {
  private readonly claimed: Set<string>;

  constructor(ledger: Ledger) {
    let claimed = claimsOfLedger.get(ledger);
    if (claimed === undefined) {
      claimed = new Set();
      claimsOfLedger.set(ledger, claimed);
    }
    this.claimed = claimed;
  }

  async claim(tenant: string, keyIds: readonly string[]): Promise<string[]> {
    return keyIds.filter((keyId) => {
      const field = `${tenant}/${keyId}`;
      if (this.claimed.has(field)) return false;
      this.claimed.add(field);
      return true;
    });
  }
}

/** One `HSETNX` per key on a hash beside the ledger, in one pipeline: exactly one claim wins each. */
export class RedisKeyRevocations implements KeyRevocations {
  constructor(
    private readonly client: RedisLedger['client'],
    private readonly key: string,
  ) {}

  async claim(tenant: string, keyIds: readonly string[]): Promise<string[]> {
    if (keyIds.length === 0) return [];
    await whenConnected(this.client);
    const pipeline = this.client.pipeline();
    const at = String(Date.now());
    for (const keyId of keyIds) pipeline.hsetnx(this.key, `${tenant}/${keyId}`, at);
    const replies = (await pipeline.exec()) ?? [];
    // A claim that failed set nothing: its key is reported by a later re-run.
    return keyIds.filter((_, i) => replies[i]?.[0] === null && replies[i]?.[1] === 1);
  }
}

/** Claims beside the ledger: in its Redis (`<prefix>tenants:keys-revoked`), or with the memory ledger. */
export function openKeyRevocations(ledger: Ledger, store: LedgerStoreConfig): KeyRevocations {
  if (store.type === 'redis' && 'client' in ledger) {
    return new RedisKeyRevocations(
      (ledger as RedisLedger).client,
      `${store.keyPrefix ?? 'cycles:'}tenants:keys-revoked`,
    );
  }
  return new MemoryKeyRevocations(ledger);
}
