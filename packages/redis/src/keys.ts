import { InvalidRequestError } from '@cycles-guard/core';

// Key naming. On one Redis every key is `<keyPrefix><name>`. On Redis Cluster every key also carries a
// hash tag, `<keyPrefix>{<tag>}<name>`, so all keys of one tag live in one slot and a Lua operation
// touching them runs on one node, atomically. The tag of a tenant's keys is `tenantTag(tenant)`: every
// key of its hierarchy (budgets, reservations, idempotency records, settings, indexes) shares it.
// Keys of scopes without a tenant, the template list and the settlement outbox carry GLOBAL_TAG.
// A new per-tenant key (events, webhook deliveries, ...) must be built under `partitionPrefix(keyPrefix,
// tenantTag(tenant))`, never under the bare prefix, or a cluster will refuse the script touching it.

/** The tag of keys that belong to no tenant (scopes without one, templates, the outbox). */
export const GLOBAL_TAG = '_';

/** Tags of tenants: 4,096 of them (3 hex digits) spread evenly over the 16,384 slots. */
const TAG_BITS = 12;

/**
 * The hash tag of a tenant's keys (lower-cased first; `undefined` or '' → GLOBAL_TAG). Several tenants
 * may share a tag: their keys stay apart by name, the tag only picks the slot.
 */
export function tenantTag(tenant: string | undefined): string {
  if (tenant === undefined || tenant === '') return GLOBAL_TAG;
  // FNV-1a, 32 bits: stable across processes and releases (a tag that changed would orphan data).
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(tenant.toLowerCase(), 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return (hash >>> (32 - TAG_BITS)).toString(16).padStart(TAG_BITS / 4, '0');
}

/** The prefix of every key of a tag (`undefined`: one Redis, no tag). */
export function partitionPrefix(keyPrefix: string, tag: string | undefined): string {
  return tag === undefined ? keyPrefix : `${keyPrefix}{${tag}}`;
}

const RESERVATION_TAG = /^rsv_([0-9a-f]{3}|_)\./;

/** The tag a clustered reservation id carries (`rsv_<tag>.<rest>`), GLOBAL_TAG for any other id. */
export function reservationTag(reservationId: string): string {
  return RESERVATION_TAG.exec(reservationId)?.[1] ?? GLOBAL_TAG;
}

/** A hash tag inside the key prefix would override the tenant's: refused, naming the option. */
export function checkClusterKeyPrefix(keyPrefix: string): void {
  if (/[{}]/.test(keyPrefix)) {
    throw new InvalidRequestError(
      `keyPrefix ${JSON.stringify(keyPrefix)} contains { or }: on Redis Cluster the ledger adds each tenant's hash tag itself; fix the keyPrefix option (drop the braces)`,
      { details: { field: 'keyPrefix' } },
    );
  }
}
