import { ForbiddenError, type Ledger, NotFoundError, UnauthorizedError } from '@cycles-guard/core';
import { type EventQuery, type LedgerEvents, TENANT_CATEGORIES } from '@cycles-guard/core/ledger-kit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiKeyRegistry } from '../api-keys.ts';
import { openCursor, sealCursor } from '../http/cursor.ts';
import { limitOf, param, timeOf } from '../http/list-params.ts';
import { checkQuery, queryOf } from '../http/query.ts';
import { requireAdmin } from './admin.ts';

/** The tenant of `X-Cycles-API-Key`, or 401. */
export function tenantOf(request: FastifyRequest, keys: ApiKeyRegistry): string {
  const value = request.headers['x-cycles-api-key'];
  const tenant = keys.tenantOf(Array.isArray(value) ? value[0] : value);
  if (tenant === undefined) {
    throw new UnauthorizedError('Missing or unknown X-Cycles-API-Key: send the key issued for your tenant', {
      details: { header: 'X-Cycles-API-Key' },
    });
  }
  request.tenant = tenant;
  return tenant;
}

/** GOV listEvents parameters → the ledger's event query (validated there, naming wire fields). */
function eventQuery(params: URLSearchParams): EventQuery {
  checkQuery(params, 'listEvents');
  const query: EventQuery = { limit: limitOf(params) };
  const text: [keyof EventQuery, string][] = [
    ['tenant', 'tenant_id'],
    ['eventType', 'event_type'],
    ['category', 'category'],
    ['scope', 'scope'],
    ['correlationId', 'correlation_id'],
    ['traceId', 'trace_id'],
    ['requestId', 'request_id'],
    ['search', 'search'],
    ['sortDir', 'sort_dir'],
  ];
  for (const [field, name] of text) {
    const value = param(params, name);
    if (value !== undefined) (query as Record<string, unknown>)[field] = value;
  }
  const fromMs = timeOf(params, 'from');
  const toMs = timeOf(params, 'to');
  if (fromMs !== undefined) query.fromMs = fromMs;
  if (toMs !== undefined) query.toMs = toMs;
  const cursor = openCursor(params);
  if (cursor !== undefined) query.cursor = cursor;
  return query;
}

/** GOV `EventListResponse` of one page. */
async function page(events: LedgerEvents, query: EventQuery, params: URLSearchParams) {
  const result = await events.list(query);
  const body: Record<string, unknown> = { events: result.events, has_more: result.hasMore };
  const next = sealCursor(result.nextCursor, params);
  if (next !== undefined) body.next_cursor = next;
  return body;
}

/**
 * GOV listTenantEvents (`GET /v1/events`, the key's tenant only: budget, reservation and tenant events),
 * listEvents and getEvent (admin key). `sort_by` is accepted and ignored: events are ordered by time.
 */
export function registerEventRoutes(app: FastifyInstance, ledger: Ledger, keys: ApiKeyRegistry): void {
  const events = ledger.events;
  if (events === undefined) return;

  app.get('/v1/events', async (request) => {
    const tenant = tenantOf(request, keys);
    const params = queryOf(request);
    const query = eventQuery(params);
    // Lists are tenant-scoped: naming another tenant is a 403 (as for balances), not its own events.
    if (query.tenant !== undefined && query.tenant !== tenant) {
      throw new ForbiddenError('tenant_id names another tenant: a tenant key lists its own events only', {
        details: { field: 'tenant_id' },
      });
    }
    query.tenant = tenant;
    // Its own webhook.* and system.webhook_delivery_failed events are kept under it, for the admin.
    query.categories = TENANT_CATEGORIES;
    return page(events, query, params);
  });

  app.get('/v1/admin/events', async (request) => {
    requireAdmin(request, keys);
    const params = queryOf(request);
    return page(events, eventQuery(params), params);
  });

  app.get<{ Params: { event_id: string } }>('/v1/admin/events/:event_id', async (request) => {
    requireAdmin(request, keys);
    const event = await events.get(request.params.event_id);
    if (event === undefined) {
      throw new NotFoundError('No event has this id (or it is past the retention)', {
        details: { event_id: request.params.event_id.slice(0, 128) },
      });
    }
    return event;
  });
}
