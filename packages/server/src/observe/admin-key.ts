import { UnauthorizedError } from '@cycles-guard/core';
import type { FastifyRequest } from 'fastify';
import type { ApiKeyRegistry } from '../api-keys.ts';

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The admin key from `X-Admin-API-Key` or `Authorization: Bearer` (what a Prometheus scrape sends). */
export function adminKeyOf(request: FastifyRequest): string | undefined {
  const bearer = /^Bearer (.+)$/i.exec(header(request, 'authorization') ?? '')?.[1];
  return header(request, 'x-admin-api-key') ?? bearer;
}

/** Who reads an observability endpoint: the admin (every tenant) or, where allowed, one tenant's key. */
export function readerOf(
  request: FastifyRequest,
  keys: ApiKeyRegistry,
  tenantAllowed: boolean,
): { tenant?: string } {
  if (keys.adminEnabled && keys.isAdmin(adminKeyOf(request))) return {};
  const tenant = tenantAllowed ? keys.tenantOf(header(request, 'x-cycles-api-key')) : undefined;
  if (tenant !== undefined) {
    request.tenant = tenant;
    return { tenant };
  }
  throw new UnauthorizedError(
    tenantAllowed
      ? 'Send the admin key (X-Admin-API-Key) or your tenant key (X-Cycles-API-Key)'
      : 'Send the admin key in X-Admin-API-Key or Authorization: Bearer (start the server with adminApiKey)',
    { details: { header: tenantAllowed ? 'X-Cycles-API-Key' : 'X-Admin-API-Key' } },
  );
}
