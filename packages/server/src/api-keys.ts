import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

/** One-shot SHA-256 (Node ≥ 20.12): no Hash object per request. */
function digest(key: string): string {
  return hash('sha256', key, 'hex');
}

/**
 * API keys → tenants. Keys are kept only as SHA-256 digests, so a heap dump or a log line never shows
 * one, and lookups by digest do not leak key prefixes through timing.
 */
export class ApiKeyRegistry {
  private readonly tenants = new Map<string, string>();
  private readonly adminDigest: Buffer | undefined;

  constructor(keys: Record<string, string>, adminKey: string | undefined) {
    for (const [key, tenant] of Object.entries(keys)) this.add(key, tenant);
    this.adminDigest = adminKey === undefined ? undefined : Buffer.from(digest(adminKey), 'hex');
  }

  /** Maps `key` to `tenant` (lower-cased, as scopes are). */
  add(key: string, tenant: string): void {
    this.tenants.set(digest(key), tenant.toLowerCase());
  }

  /** Issues a new random key for `tenant`. */
  issue(tenant: string): string {
    const key = `cg_${randomBytes(24).toString('base64url')}`;
    this.add(key, tenant);
    return key;
  }

  /** The tenant of a key, or undefined for a missing or unknown key. */
  tenantOf(key: string | undefined): string | undefined {
    return key === undefined || key === '' ? undefined : this.tenants.get(digest(key));
  }

  /**
   * The ids of the tenant's keys: `key_` and the start of the key's digest (keys from config have no id
   * of their own; the id never shows the key).
   */
  keyIdsOf(tenant: string): string[] {
    const ids: string[] = [];
    for (const [keyDigest, owner] of this.tenants)
      if (owner === tenant) ids.push(`key_${keyDigest.slice(0, 16)}`);
    return ids.sort();
  }

  /** The tenants that have a key. */
  tenantsWithKeys(): Set<string> {
    return new Set(this.tenants.values());
  }

  /** Whether admin endpoints are enabled at all. */
  get adminEnabled(): boolean {
    return this.adminDigest !== undefined;
  }

  isAdmin(key: string | undefined): boolean {
    if (this.adminDigest === undefined || key === undefined || key === '') return false;
    return timingSafeEqual(this.adminDigest, Buffer.from(digest(key), 'hex'));
  }
}
