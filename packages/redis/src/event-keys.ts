// Every Redis key of the event store, built here and only here. A tenant's keys carry the tenant in a
// hash tag (`{tenant}`), so one tenant's events stay together (one Cluster slot) and no tenant's keys
// can collide with or bound another's.

/** A key of one tenant's events: `log` (sorted by sequence), `once:<alert>` (fired-once claims). */
export function tenantEventKey(prefix: string, tenant: string, kind: string): string {
  return `${prefix}events:{${tenant}}:${kind}`;
}

/** A key shared by every tenant: `seq` (the sequence counter), `tenants` (who has events), `id:<event id>`. */
export function sharedEventKey(prefix: string, kind: string): string {
  return `${prefix}events:${kind}`;
}
