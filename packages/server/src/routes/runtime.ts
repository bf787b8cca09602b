import {
  type BudgetAuthority,
  InvalidRequestError,
  NotFoundError,
  UnauthorizedError,
} from '@cycles-guard/core';
import {
  type CallContext,
  fromBalancesQueryParams,
  fromListReservationsQueryParams,
  fromWireCommitRequest,
  fromWireDecideRequest,
  fromWireEventRequest,
  fromWireExtendRequest,
  fromWireReleaseRequest,
  fromWireReserveRequest,
  toWireBalancesResponse,
  toWireCommitResponse,
  toWireDecideResponse,
  toWireEventResponse,
  toWireExtendResponse,
  toWireListReservationsResponse,
  toWireReleaseResponse,
  toWireReservationDetail,
  toWireReserveResponse,
} from '@cycles-guard/core/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiKeyRegistry } from '../api-keys.ts';
import { withTenantIdFilter } from '../http/balances-tenant.ts';
import { openCursor, sealCursor } from '../http/cursor.ts';
import { checkQuery, queryOf } from '../http/query.ts';
import { assertValidBody, type BodyOperation } from '../http/request-body.ts';

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The caller's context from `X-Cycles-API-Key` (its tenant), or a trusted context for the admin key on
 * the operations the spec opens to it (list, get, release of reservations: operator force-release).
 */
function authenticate(request: FastifyRequest, keys: ApiKeyRegistry, adminAllowed: boolean): CallContext {
  const tenant = keys.tenantOf(header(request, 'x-cycles-api-key'));
  if (tenant !== undefined) {
    request.tenant = tenant;
    return { tenant, requestId: request.id, traceId: request.traceId };
  }
  if (adminAllowed && keys.isAdmin(header(request, 'x-admin-api-key'))) return {};
  throw new UnauthorizedError('Missing or unknown X-Cycles-API-Key: send the key issued for your tenant', {
    details: { header: 'X-Cycles-API-Key' },
  });
}

/** Checks the body against the spec's schema and that `X-Idempotency-Key`, when sent, equals its key. */
function readBody(request: FastifyRequest, operation: BodyOperation): Record<string, unknown> {
  const body = request.body;
  assertValidBody(operation, body);
  const headerKey = header(request, 'x-idempotency-key');
  if (headerKey !== undefined && headerKey !== body.idempotency_key) {
    throw new InvalidRequestError(
      'X-Idempotency-Key must equal the body idempotency_key: send the same key in both',
      {
        details: { field: 'X-Idempotency-Key' },
      },
    );
  }
  return body;
}

/** Reads a list query: misspelt or repeated parameters refused, the sealed cursor opened. */
function listQuery<Q extends { cursor?: string }>(
  params: URLSearchParams,
  operation: 'listReservations' | 'getBalances',
  parse: (params: URLSearchParams) => Q,
): Q {
  checkQuery(params, operation);
  const { cursor: _sealed, ...query } = parse(params);
  const cursor = openCursor(params);
  return (cursor === undefined ? query : { ...query, cursor }) as Q;
}

function reply200(reply: FastifyReply, request: FastifyRequest, body: unknown, status = 200): FastifyReply {
  if (request.tenant !== undefined) reply.header('X-Cycles-Tenant', request.tenant);
  return reply.code(status).send(body);
}

type IdParams = { Params: { reservation_id: string } };

/** The Cycles runtime operations (spec v0.1.25), each mapped wire → ledger → wire with no extra fields. */
export function registerRuntimeRoutes(
  app: FastifyInstance,
  ledger: BudgetAuthority,
  keys: ApiKeyRegistry,
): void {
  app.post('/v1/reservations', async (request, reply) => {
    const context = authenticate(request, keys, false);
    const body = readBody(request, 'reserve');
    const response = await ledger.reserve(fromWireReserveRequest(body as never), context);
    return reply200(reply, request, toWireReserveResponse(response));
  });

  app.post<IdParams>('/v1/reservations/:reservation_id/commit', async (request, reply) => {
    const context = authenticate(request, keys, false);
    const body = readBody(request, 'commit');
    const response = await ledger.commit(
      request.params.reservation_id,
      fromWireCommitRequest(body as never),
      context,
    );
    return reply200(reply, request, toWireCommitResponse(response));
  });

  app.post<IdParams>('/v1/reservations/:reservation_id/release', async (request, reply) => {
    const context = authenticate(request, keys, true);
    const body = readBody(request, 'release');
    const response = await ledger.release(
      request.params.reservation_id,
      fromWireReleaseRequest(body as never),
      context,
    );
    return reply200(reply, request, toWireReleaseResponse(response));
  });

  app.post<IdParams>('/v1/reservations/:reservation_id/extend', async (request, reply) => {
    const context = authenticate(request, keys, false);
    const body = readBody(request, 'extend');
    const response = await ledger.extend(
      request.params.reservation_id,
      fromWireExtendRequest(body as never),
      context,
    );
    return reply200(reply, request, toWireExtendResponse(response));
  });

  app.get<IdParams>('/v1/reservations/:reservation_id', async (request, reply) => {
    const context = authenticate(request, keys, true);
    const detail = await ledger.getReservation(request.params.reservation_id, context);
    return reply200(reply, request, toWireReservationDetail(detail));
  });

  app.get('/v1/reservations', async (request, reply) => {
    const context = authenticate(request, keys, true);
    const params = queryOf(request);
    const query = listQuery(params, 'listReservations', fromListReservationsQueryParams);
    if (context.tenant === undefined && query.tenant === undefined) {
      throw new InvalidRequestError('tenant is required when listing with the admin key: add ?tenant=<id>', {
        details: { field: 'tenant' },
      });
    }
    const response = await ledger.listReservations(query, context);
    const nextCursor = sealCursor(response.nextCursor, params);
    return reply200(reply, request, toWireListReservationsResponse({ ...response, nextCursor }));
  });

  app.post('/v1/decide', async (request, reply) => {
    const context = authenticate(request, keys, false);
    const body = readBody(request, 'decide');
    const response = await ledger.decide(fromWireDecideRequest(body as never), context);
    return reply200(reply, request, toWireDecideResponse(response));
  });

  app.post('/v1/events', async (request, reply) => {
    const context = authenticate(request, keys, false);
    const body = readBody(request, 'event');
    const response = await ledger.createEvent(fromWireEventRequest(body as never), context);
    return reply200(reply, request, toWireEventResponse(response), 201);
  });

  app.get('/v1/balances', async (request, reply) => {
    const context = authenticate(request, keys, false);
    const params = withTenantIdFilter(queryOf(request));
    const response = await ledger.getBalances(
      listQuery(params, 'getBalances', fromBalancesQueryParams),
      context,
    );
    const nextCursor = sealCursor(response.nextCursor, params);
    return reply200(reply, request, toWireBalancesResponse({ ...response, nextCursor }));
  });

  // Evidence is optional (MAY): this server signs nothing, so every id is unknown and no JWKS is published.
  app.get('/v1/evidence/:evidence_id', async () => {
    throw new NotFoundError('This server does not issue CyclesEvidence: no envelope has this id', {
      details: { reason: 'evidence not supported' },
    });
  });
  app.get('/v1/.well-known/cycles-jwks.json', async () => {
    throw new NotFoundError('This server publishes no signer keys (evidence is not supported)');
  });
}
