import { UnauthorizedError } from '@cycles-guard/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiKeyRegistry } from '../api-keys.ts';
import { adminCapabilities, TENANT_KEY_PERMISSIONS, tenantCapabilities } from '../auth/capabilities.ts';

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** `GET /v1/auth/introspect`: who the caller's key is and what it may do (admin or tenant key). */
export function registerIntrospectRoute(app: FastifyInstance, keys: ApiKeyRegistry): void {
  app.get('/v1/auth/introspect', async (request) => {
    const tenant = keys.tenantOf(header(request, 'x-cycles-api-key'));
    if (tenant !== undefined) {
      request.tenant = tenant;
      return {
        authenticated: true,
        auth_type: 'tenant',
        permissions: [...TENANT_KEY_PERMISSIONS],
        capabilities: tenantCapabilities(TENANT_KEY_PERMISSIONS),
        tenant_id: tenant,
      };
    }
    if (keys.isAdmin(header(request, 'x-admin-api-key'))) {
      return {
        authenticated: true,
        auth_type: 'admin',
        permissions: ['*'],
        capabilities: adminCapabilities(),
      };
    }
    throw new UnauthorizedError(
      'Missing or unknown key: send X-Cycles-API-Key (a tenant key) or X-Admin-API-Key',
      { details: { header: 'X-Cycles-API-Key' } },
    );
  });
}
