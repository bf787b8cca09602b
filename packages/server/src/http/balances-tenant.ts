import { InvalidRequestError } from '@cycles-guard/core';

/**
 * `GET /v1/balances` is declared twice: the runtime spec filters by subject (`?tenant=`), the governance
 * spec's normative cross-plane form by `?tenant_id=` (what the official clients send). Both name the
 * same tenant filter here; sending both with different values is refused.
 */
export function withTenantIdFilter(params: URLSearchParams): URLSearchParams {
  const tenantIds = params.getAll('tenant_id');
  if (tenantIds.length === 0) return params;
  if (tenantIds.length > 1) {
    throw new InvalidRequestError('tenant_id was sent more than once: send it once', {
      details: { field: 'tenant_id' },
    });
  }
  const tenant = params.get('tenant');
  if (tenant !== null && tenant !== tenantIds[0]) {
    throw new InvalidRequestError('tenant_id and tenant name different tenants: send one of them', {
      details: { field: 'tenant_id' },
    });
  }
  const merged = new URLSearchParams(params);
  merged.delete('tenant_id');
  merged.set('tenant', tenantIds[0]!);
  return merged;
}
