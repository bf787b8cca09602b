import { createHash } from 'node:crypto';
import type { BudgetAuthority } from '../authority.ts';
import {
  fromWireBalancesResponse,
  fromWireCommitResponse,
  fromWireDecideResponse,
  fromWireEventResponse,
  fromWireExtendResponse,
  fromWireListReservationsResponse,
  fromWireReleaseResponse,
  fromWireReservationDetail,
  fromWireReserveResponse,
  toBalancesQueryParams,
  toListReservationsQueryParams,
  toWireCommitRequest,
  toWireDecideRequest,
  toWireEventRequest,
  toWireExtendRequest,
  toWireReleaseRequest,
  toWireReserveRequest,
} from '../protocol/mappers.ts';
import type { ReserveRequest, ReserveResponse } from '../protocol/types.ts';
import { validateInput } from '../protocol/validate-input.ts';
import type {
  WireBalanceResponse,
  WireCommitResponse,
  WireDecisionResponse,
  WireEventCreateResponse,
  WireReleaseResponse,
  WireReservationCreateResponse,
  WireReservationDetail,
  WireReservationExtendResponse,
  WireReservationListResponse,
} from '../protocol/wire.ts';
import { createHttpTransport, type HttpTransport, type HttpTransportOptions } from './http-transport.ts';
import { reserveWithPartialFallback } from './partial-hold.ts';

/** Options of `createHttpAuthority`. */
export type HttpAuthorityOptions = HttpTransportOptions;

function reservationPath(reservationId: string, action?: string): string {
  validateInput.reservationId(reservationId);
  const base = `/v1/reservations/${encodeURIComponent(reservationId)}`;
  return action === undefined ? base : `${base}/${action}`;
}

function withQuery(path: string, params: URLSearchParams): string {
  const query = params.toString();
  return query === '' ? path : `${path}?${query}`;
}

/**
 * A `BudgetAuthority` that talks to any Cycles-protocol server (v0.1.25) over HTTP: the reference
 * server, `cycles-guard-server`, or another implementation. Runtime operations only: budgets are
 * provisioned on the server.
 *
 * - Auth: `X-Cycles-API-Key`; the server derives the tenant from it, so `CallContext` is not sent.
 * - Every POST sends `X-Idempotency-Key` equal to the body's `idempotency_key`, and retries of
 *   transport errors, 5xx and 429 (after `Retry-After`) reuse it, so a lost response replays.
 * - A server that does not answer within `timeoutMs` fails closed with `AuthorityUnavailableError`.
 * - Error bodies become the typed error of their code (`BudgetExceededError`, ...).
 * - Partial holds (`minimum`, our extension) are emulated: on BUDGET_EXCEEDED the balances of the
 *   subject's scopes are read and the reserve is retried once at the smallest remaining, or at
 *   `minimum` when less fits (so the server names the scope that refuses it); never above the estimate.
 */
export function createHttpAuthority(options: HttpAuthorityOptions): BudgetAuthority {
  const transport: HttpTransport = createHttpTransport(options);
  /** Every protocol POST body carries `idempotency_key`; the transport repeats it as X-Idempotency-Key. */
  const post = (path: string, wireBody: object): Promise<unknown> =>
    transport.send({ method: 'POST', path, body: wireBody as { idempotency_key: string } });

  async function reserveOnce(request: ReserveRequest): Promise<ReserveResponse> {
    const body = await post('/v1/reservations', toWireReserveRequest(request));
    return fromWireReserveResponse(body as WireReservationCreateResponse);
  }

  const authority: BudgetAuthority = {
    // One outbox journal per server and key (a key is a tenant); the key itself only as a digest.
    identity: `http ${options.baseUrl} ${createHash('sha256').update(options.apiKey).digest('hex').slice(0, 16)}`,
    // Requests are validated as a ledger would before anything is sent, so every authority refuses the
    // same input the same way (a body JSON cannot carry, or a key no header can, never leaves).
    async reserve(request) {
      validateInput.reserve(request);
      return reserveWithPartialFallback(request, reserveOnce, authority);
    },
    async commit(reservationId, request) {
      validateInput.commit(reservationId, request);
      const body = await post(reservationPath(reservationId, 'commit'), toWireCommitRequest(request));
      return fromWireCommitResponse(body as WireCommitResponse);
    },
    async release(reservationId, request) {
      validateInput.release(reservationId, request);
      const body = await post(reservationPath(reservationId, 'release'), toWireReleaseRequest(request));
      return fromWireReleaseResponse(body as WireReleaseResponse);
    },
    async extend(reservationId, request) {
      validateInput.extend(reservationId, request);
      const body = await post(reservationPath(reservationId, 'extend'), toWireExtendRequest(request));
      return fromWireExtendResponse(body as WireReservationExtendResponse);
    },
    async decide(request) {
      validateInput.decide(request);
      const body = await post('/v1/decide', toWireDecideRequest(request));
      return fromWireDecideResponse(body as WireDecisionResponse);
    },
    async createEvent(request) {
      validateInput.event(request);
      const body = await post('/v1/events', toWireEventRequest(request));
      return fromWireEventResponse(body as WireEventCreateResponse);
    },
    async getBalances(query) {
      validateInput.balancesQuery(query);
      const body = await transport.send({
        method: 'GET',
        path: withQuery('/v1/balances', toBalancesQueryParams(query)),
      });
      return fromWireBalancesResponse(body as WireBalanceResponse);
    },
    async getReservation(reservationId) {
      const body = await transport.send({ method: 'GET', path: reservationPath(reservationId) });
      return fromWireReservationDetail(body as WireReservationDetail);
    },
    async listReservations(query) {
      validateInput.listQuery(query);
      const body = await transport.send({
        method: 'GET',
        path: withQuery('/v1/reservations', toListReservationsQueryParams(query)),
      });
      return fromWireListReservationsResponse(body as WireReservationListResponse);
    },
    // Nothing to stop: fetch keeps no state of ours (keep-alive sockets are unref'd by undici).
    close: async () => {},
  };
  return authority;
}
