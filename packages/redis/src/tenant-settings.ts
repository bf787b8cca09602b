import type { TenantSettings } from '@cycles-guard/core/protocol';
import type { Cluster, Redis } from 'ioredis';
import { partitionPrefix, tenantTag } from './keys.ts';
import { whenConnected } from './when-connected.ts';

// A tenant's settings, read where the scripts keep them (`setTenant` writes the hash whole: one field
// per set setting, as text), for what reads them outside a script: the admin API's tenant events, and
// the events of a dry run that did not choose its mode.

const NUMBERS = new Set([
  'defaultReservationTtlMs',
  'maxReservationTtlMs',
  'maxReservationExtensions',
  'maxReservations',
  'maxTemplateLedgers',
]);

/** The tenant's settings hash (field → text), or undefined when none are set. */
export async function readTenantHash(
  client: Redis | Cluster,
  keyPrefix: string,
  tenant: string,
): Promise<Record<string, string> | undefined> {
  const lower = tenant.toLowerCase();
  await whenConnected(client);
  const prefix = partitionPrefix(keyPrefix, client.isCluster ? tenantTag(lower) : undefined);
  const stored = await client.hgetall(`${prefix}tenant:${lower}`);
  return Object.keys(stored).length === 0 ? undefined : stored;
}

/** The settings a hash holds, typed back. */
export function tenantSettingsOf(stored: Record<string, string>): TenantSettings {
  const settings: Record<string, unknown> = {};
  for (const [field, text] of Object.entries(stored)) {
    settings[field] = NUMBERS.has(field) ? Number(text) : field === 'observeMode' ? text === 'true' : text;
  }
  return settings as TenantSettings;
}
