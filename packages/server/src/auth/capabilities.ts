// `GET /v1/auth/introspect` (governance spec v0.1.25, AuthIntrospectResponse): what a key may do.

/**
 * What a tenant key of this server may do, as the spec's Permission values: the runtime operations,
 * balance reads, its own events (`GET /v1/events`) and webhook self-service (`/v1/webhooks`). Budgets
 * and policies are provisioned with the admin key only.
 */
export const TENANT_KEY_PERMISSIONS: readonly string[] = [
  'reservations:create',
  'reservations:commit',
  'reservations:release',
  'reservations:extend',
  'reservations:list',
  'balances:read',
  'events:read',
  'webhooks:read',
  'webhooks:write',
];

/** The spec's normative derivation table: a capability is true iff the key holds any listed permission. */
const DERIVED: Readonly<Record<string, readonly string[]>> = {
  view_budgets: ['budgets:read', 'admin:read', 'admin:budgets:read'],
  view_policies: ['policies:read', 'admin:read', 'admin:policies:read'],
  view_webhooks: ['webhooks:read', 'admin:read', 'admin:webhooks:read'],
  view_events: ['events:read', 'admin:read', 'admin:events:read'],
  view_reservations: [
    'reservations:list',
    'reservations:create',
    'reservations:commit',
    'reservations:release',
    'reservations:extend',
    'admin:read',
  ],
  manage_budgets: ['budgets:write', 'admin:write', 'admin:budgets:write'],
  manage_policies: ['policies:write', 'admin:write', 'admin:policies:write'],
  manage_webhooks: ['webhooks:write', 'admin:write', 'admin:webhooks:write'],
  manage_reservations: [
    'reservations:create',
    'reservations:commit',
    'reservations:release',
    'reservations:extend',
    'admin:write',
  ],
};

/** Admin-plane capabilities: always false for a tenant key, whatever `admin:*` permission it carries. */
const ADMIN_PLANE = [
  'view_overview',
  'view_audit',
  'view_tenants',
  'view_api_keys',
  'manage_tenants',
  'manage_api_keys',
] as const;

/** The capabilities map of a tenant key holding `permissions` (every flag present, explicit false). */
export function tenantCapabilities(permissions: readonly string[]): Record<string, boolean> {
  const held = new Set(permissions);
  const capabilities: Record<string, boolean> = {};
  for (const flag of ADMIN_PLANE) capabilities[flag] = false;
  for (const [flag, grants] of Object.entries(DERIVED)) capabilities[flag] = grants.some((p) => held.has(p));
  return capabilities;
}

/** The admin key's capabilities: every flag true. */
export function adminCapabilities(): Record<string, boolean> {
  const capabilities: Record<string, boolean> = {};
  for (const flag of [...ADMIN_PLANE, ...Object.keys(DERIVED)]) capabilities[flag] = true;
  return capabilities;
}
