import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as arb from '../../test/contract/arbitraries.ts';
import {
  AuthorityUnavailableError,
  BudgetExceededError,
  CyclesError,
  InternalError,
  InvalidRequestError,
  ModelNotPricedError,
  NotFoundError,
  ReservationExpiredError,
} from './errors.ts';
import {
  fromBalancesQueryParams,
  fromListReservationsQueryParams,
  fromWireBalance,
  fromWireBalancesResponse,
  fromWireCommitRequest,
  fromWireCommitResponse,
  fromWireDecideRequest,
  fromWireDecideResponse,
  fromWireErrorResponse,
  fromWireEventRequest,
  fromWireEventResponse,
  fromWireExtendRequest,
  fromWireExtendResponse,
  fromWireListReservationsResponse,
  fromWireReleaseRequest,
  fromWireReleaseResponse,
  fromWireReservationDetail,
  fromWireReserveRequest,
  fromWireReserveResponse,
  toBalancesQueryParams,
  toListReservationsQueryParams,
  toWireBalance,
  toWireBalancesResponse,
  toWireCommitRequest,
  toWireCommitResponse,
  toWireDecideRequest,
  toWireDecideResponse,
  toWireErrorResponse,
  toWireEventRequest,
  toWireEventResponse,
  toWireEvidenceRef,
  toWireExtendRequest,
  toWireExtendResponse,
  toWireListReservationsResponse,
  toWireReleaseRequest,
  toWireReleaseResponse,
  toWireReservationDetail,
  toWireReserveRequest,
  toWireReserveResponse,
  wireErrorStatus,
} from './mappers.ts';
import type { ReserveRequest, ReserveResponse } from './types.ts';
import type { WireReservationCreateResponse } from './wire.ts';

/** Every key at any depth, outside the open maps whose keys are user data. */
function keysDeep(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) {
    for (const item of value) keysDeep(item, out);
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, inner] of Object.entries(value)) {
      out.push(key);
      if (!['metadata', 'committed_metadata', 'dimensions', 'custom', 'details'].includes(key))
        keysDeep(inner, out);
    }
  }
  return out;
}

const json = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

type Pair = [string, fc.Arbitrary<unknown>, (api: unknown) => unknown, (wire: unknown) => unknown];

/** One table row; erases the per-row types (the arbitrary guarantees they line up). */
function pair<A, W>(
  name: string,
  arbitrary: fc.Arbitrary<A>,
  toWire: (api: A) => W,
  fromWire: (wire: W) => A,
): Pair {
  return [name, arbitrary, toWire as (api: unknown) => unknown, fromWire as (wire: unknown) => unknown];
}

const PAIRS: Pair[] = [
  pair('reserve request', arb.reserveRequestArb, toWireReserveRequest, fromWireReserveRequest),
  pair('reserve response', arb.reserveResponseArb, toWireReserveResponse, fromWireReserveResponse),
  pair('commit request', arb.commitRequestArb, toWireCommitRequest, fromWireCommitRequest),
  pair('commit response', arb.commitResponseArb, toWireCommitResponse, fromWireCommitResponse),
  pair('release request', arb.releaseRequestArb, toWireReleaseRequest, fromWireReleaseRequest),
  pair('release response', arb.releaseResponseArb, toWireReleaseResponse, fromWireReleaseResponse),
  pair('extend request', arb.extendRequestArb, toWireExtendRequest, fromWireExtendRequest),
  pair('extend response', arb.extendResponseArb, toWireExtendResponse, fromWireExtendResponse),
  pair('decide request', arb.decideRequestArb, toWireDecideRequest, fromWireDecideRequest),
  pair('decide response', arb.decideResponseArb, toWireDecideResponse, fromWireDecideResponse),
  pair('event request', arb.eventRequestArb, toWireEventRequest, fromWireEventRequest),
  pair('event response', arb.eventResponseArb, toWireEventResponse, fromWireEventResponse),
  pair('balance', arb.balanceArb, toWireBalance, fromWireBalance),
  pair('balances response', arb.balancesResponseArb, toWireBalancesResponse, fromWireBalancesResponse),
  pair('reservation detail', arb.reservationDetailArb, toWireReservationDetail, fromWireReservationDetail),
  pair(
    'list response',
    arb.listReservationsResponseArb,
    toWireListReservationsResponse,
    fromWireListReservationsResponse,
  ),
];

describe('API ⇄ wire round trip', () => {
  it.each(PAIRS)('%s: fromWire(JSON(toWire(x))) equals x', (_name, arbitrary, toWire, fromWire) => {
    fc.assert(
      fc.property(arbitrary, (api) => {
        expect(fromWire(json(toWire(api)))).toStrictEqual(json(api));
      }),
      { numRuns: 200 },
    );
  });

  it.each(PAIRS)(
    '%s: the wire form has only snake_case keys and no nulls/undefined',
    (_name, arbitrary, toWire) => {
      fc.assert(
        fc.property(arbitrary, (api) => {
          const wire = toWire(api);
          for (const key of keysDeep(wire)) expect(key).toMatch(/^[a-z0-9]+(_[a-z0-9]+)*$/);
          expect(JSON.stringify(wire)).toBe(JSON.stringify(json(wire)));
        }),
        { numRuns: 100 },
      );
    },
  );
});

describe('malformed input', () => {
  const REQUEST_MAPPERS: [string, (wire: never) => unknown][] = [
    ['reserve', fromWireReserveRequest],
    ['commit', fromWireCommitRequest],
    ['release', fromWireReleaseRequest],
    ['extend', fromWireExtendRequest],
    ['decide', fromWireDecideRequest],
    ['event', fromWireEventRequest],
    ['detail', fromWireReservationDetail],
    ['list', fromWireListReservationsResponse],
    ['balances', fromWireBalancesResponse],
  ];
  const FIELDS = [
    'idempotency_key',
    'subject',
    'action',
    'estimate',
    'actual',
    'metadata',
    'metrics',
    'balances',
    'reservations',
    'affected_scopes',
    'reserved',
  ];
  // Any JSON object whose known fields hold anything at all.
  const bodyArb = fc.dictionary(fc.constantFrom(...FIELDS), fc.anything(), { maxKeys: 6 });

  it.each(REQUEST_MAPPERS)('%s: mapping never throws (the validators own the 400)', (_name, fromWire) => {
    fc.assert(
      fc.property(bodyArb, (body) => {
        fromWire(body as never);
      }),
      { numRuns: 300 },
    );
  });

  it('passes a wrongly typed nested value through for the validator to see', () => {
    const request = fromWireReserveRequest({
      idempotency_key: 'k',
      subject: 'acme',
      estimate: [1],
    } as unknown as Parameters<typeof fromWireReserveRequest>[0]);
    expect(request.subject).toBe('acme');
    expect(request).not.toHaveProperty('action');
    expect(request.estimate).toEqual({ unit: undefined, amount: undefined });
  });

  it('refuses to put an unrepresentable time window on the wire', () => {
    expect(() => toListReservationsQueryParams({ fromMs: 1e17 })).toThrow(/from/);
    expect(() => toListReservationsQueryParams({ toMs: Date.UTC(10_000, 0, 1) })).toThrow(/to/);
  });
});

describe('rules', () => {
  const reserve: ReserveRequest = {
    idempotencyKey: 'k1',
    subject: { tenant: 'acme', agent: 'bot' },
    action: { kind: 'llm.completion', name: 'gpt-4o' },
    estimate: { unit: 'USD_MICROCENTS', amount: 500 },
  };

  it('maps field names to snake_case', () => {
    expect(
      toWireReserveRequest({
        ...reserve,
        ttlMs: 30_000,
        gracePeriodMs: 0,
        dryRun: true,
        overagePolicy: 'REJECT',
      }),
    ).toEqual({
      idempotency_key: 'k1',
      subject: { tenant: 'acme', agent: 'bot' },
      action: { kind: 'llm.completion', name: 'gpt-4o' },
      estimate: { unit: 'USD_MICROCENTS', amount: 500 },
      ttl_ms: 30_000,
      grace_period_ms: 0,
      dry_run: true,
      overage_policy: 'REJECT',
    });
  });

  it('never sends the minimum extension', () => {
    expect(toWireReserveRequest({ ...reserve, minimum: 100 })).not.toHaveProperty('minimum');
  });

  it('never sends the partial extension and never reads one back', () => {
    const response: ReserveResponse = {
      decision: 'ALLOW',
      affectedScopes: ['tenant:acme'],
      reserved: { unit: 'USD_MICROCENTS', amount: 100 },
      partial: true,
    };
    const wire = toWireReserveResponse(response);
    expect(wire).not.toHaveProperty('partial');
    const withPartial = { ...wire, partial: true } as WireReservationCreateResponse;
    expect(fromWireReserveResponse(withPartial)).not.toHaveProperty('partial');
  });

  it('omits undefined and null values, at every depth', () => {
    const loose = {
      ...reserve,
      ttlMs: undefined,
      metadata: null,
      subject: { tenant: 'acme', agent: undefined },
      action: { kind: 'k', name: 'n', tags: undefined },
    } as unknown as ReserveRequest;
    const wire = toWireReserveRequest(loose);
    expect(Object.keys(wire).sort()).toEqual(['action', 'estimate', 'idempotency_key', 'subject']);
    expect(Object.keys(wire.subject)).toEqual(['tenant']);
    expect(Object.keys(wire.action)).toEqual(['kind', 'name']);
  });

  it('drops unknown fields and null optionals from a server', () => {
    const wire = {
      decision: 'ALLOW_WITH_CAPS',
      affected_scopes: ['tenant:acme'],
      reservation_id: 'r1',
      caps: { max_tokens: 10, future_cap: 1 },
      balances: [
        { scope: 'tenant:acme', scope_path: 'tenant:acme', remaining: { unit: 'TOKENS', amount: 1 }, x: 1 },
      ],
      reason_code: null,
      policy_keys: ['v0.1.26'],
    } as unknown as WireReservationCreateResponse;
    expect(fromWireReserveResponse(wire)).toStrictEqual({
      decision: 'ALLOW_WITH_CAPS',
      affectedScopes: ['tenant:acme'],
      reservationId: 'r1',
      caps: { maxTokens: 10 },
      balances: [
        { scope: 'tenant:acme', scopePath: 'tenant:acme', remaining: { unit: 'TOKENS', amount: 1 } },
      ],
    });
  });

  it('drops the reservation evidence map (the API has no field for it)', () => {
    const detail = toWireReservationDetail({
      reservationId: 'r1',
      status: 'COMMITTED',
      subject: { tenant: 'acme' },
      action: { kind: 'k', name: 'n' },
      reserved: { unit: 'TOKENS', amount: 5 },
      createdAtMs: 1,
      expiresAtMs: 2,
      scopePath: 'tenant:acme',
      affectedScopes: ['tenant:acme'],
    });
    const evidence = {
      reserve: { evidence_id: 'a'.repeat(64), cycles_evidence_url: 'https://x/v1/evidence/a' },
    };
    expect(fromWireReservationDetail({ ...detail, evidence })).not.toHaveProperty('evidence');
  });

  it('leaves a URL-less evidence reference off the wire', () => {
    expect(toWireEvidenceRef({ evidenceId: 'a'.repeat(64) })).toBeUndefined();
    const wire = toWireCommitResponse({
      status: 'COMMITTED',
      charged: { unit: 'TOKENS', amount: 1 },
      cyclesEvidence: { evidenceId: 'a'.repeat(64) },
    });
    expect(wire).not.toHaveProperty('cycles_evidence');
  });

  it('copies open maps and arrays instead of sharing them', () => {
    const metadata = { a: 1 };
    const tags = ['x'];
    const wire = toWireReserveRequest({ ...reserve, metadata, action: { ...reserve.action, tags } });
    expect(wire.metadata).toEqual(metadata);
    expect(wire.metadata).not.toBe(metadata);
    expect(wire.action.tags).not.toBe(tags);
  });
});

describe('errors', () => {
  it('maps a known code to its typed error, keeping message and details', () => {
    const error = fromWireErrorResponse(
      {
        error: 'BUDGET_EXCEEDED',
        message: 'Insufficient remaining budget for scope tenant:acme',
        request_id: 'req_1',
        trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
        details: { scope: 'tenant:acme' },
      },
      409,
    );
    expect(BudgetExceededError.isInstance(error)).toBe(true);
    expect(error.message).toBe('Insufficient remaining budget for scope tenant:acme');
    expect(error.details).toEqual({ scope: 'tenant:acme' });
    expect(error.status).toBe(409);
  });

  it('maps RESERVATION_EXPIRED (410) and NOT_FOUND (404)', () => {
    expect(
      ReservationExpiredError.isInstance(
        fromWireErrorResponse({ error: 'RESERVATION_EXPIRED', message: 'm' }, 410),
      ),
    ).toBe(true);
    expect(NotFoundError.isInstance(fromWireErrorResponse({ error: 'NOT_FOUND', message: 'm' }, 404))).toBe(
      true,
    );
  });

  it('turns an unknown code into InternalError but keeps the message', () => {
    const error = fromWireErrorResponse(
      { error: 'QUOTA_EXCEEDED', message: 'new in v0.1.26', request_id: 'r' },
      409,
    );
    expect(InternalError.isInstance(error)).toBe(true);
    expect(error.message).toBe('new in v0.1.26');
    expect(error.details).toEqual({ wireError: 'QUOTA_EXCEEDED', httpStatus: 409 });
  });

  it('does not trust our extension codes from the wire', () => {
    const error = fromWireErrorResponse({ error: 'AUTHORITY_UNAVAILABLE', message: 'm' }, 503);
    expect(InternalError.isInstance(error)).toBe(true);
  });

  it('survives bodies that are not an ErrorResponse', () => {
    for (const body of [undefined, null, '<html>Bad gateway</html>', [], { message: 42 }]) {
      const error = fromWireErrorResponse(body, 502);
      expect(InternalError.isInstance(error)).toBe(true);
      expect(error.message).toBe('Cycles server answered HTTP 502');
      expect(error.details).toMatchObject({ httpStatus: 502 });
    }
  });

  it('passes Retry-After through', () => {
    expect(
      fromWireErrorResponse({ error: 'LIMIT_EXCEEDED', message: 'slow down' }, 429, { retryAfterMs: 2000 }),
    ).toMatchObject({ code: 'LIMIT_EXCEEDED', retryAfterMs: 2000 });
  });

  it('serializes a CyclesError as an ErrorResponse', () => {
    const error = new BudgetExceededError('no budget', { details: { scope: 'tenant:acme' } });
    expect(toWireErrorResponse(error, 'req_1', '4bf92f3577b34da6a3ce929d0e0e4736')).toStrictEqual({
      error: 'BUDGET_EXCEEDED',
      message: 'no budget',
      request_id: 'req_1',
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
      details: {
        scope: 'tenant:acme',
        deny_detail: {
          reason_code: 'BUDGET_EXCEEDED',
          blocked_by_scope: 'tenant:acme',
          suggested_fix: 'Fund tenant:acme or lower the estimate',
        },
      },
    });
    expect(wireErrorStatus(error)).toBe(409);
  });

  it('round-trips every protocol code through the wire', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...(['INVALID_REQUEST', 'NOT_FOUND', 'TENANT_CLOSED', 'INTERNAL_ERROR'] as const)),
        fc.string({ minLength: 1 }),
        (code, message) => {
          const original = new CyclesError(code, message, { details: { a: 1 } });
          const back = fromWireErrorResponse(json(toWireErrorResponse(original, 'r')), original.status);
          expect({ code: back.code, message: back.message, details: back.details }).toEqual({
            code,
            message,
            details: { a: 1 },
          });
        },
      ),
    );
  });

  it('sends extension codes as the nearest protocol code, naming ours in details', () => {
    const wire = toWireErrorResponse(new ModelNotPricedError('price it', { details: { model: 'x' } }), 'r');
    expect(wire).toEqual({
      error: 'INVALID_REQUEST',
      message: 'price it',
      request_id: 'r',
      details: { model: 'x', code: 'MODEL_NOT_PRICED' },
    });
    expect(wireErrorStatus(new ModelNotPricedError('m'))).toBe(400);
    expect(wireErrorStatus(new AuthorityUnavailableError('m'))).toBe(500);
    // A subclass's own status wins when its code is a protocol code.
    class DuplicateError extends InvalidRequestError {
      override readonly status: number = 409;
    }
    expect(wireErrorStatus(new DuplicateError('exists'))).toBe(409);
  });

  it('hides non-Cycles errors behind INTERNAL_ERROR', () => {
    expect(toWireErrorResponse(new Error('db password is hunter2'), 'r')).toEqual({
      error: 'INTERNAL_ERROR',
      message: 'Internal error',
      request_id: 'r',
    });
    expect(wireErrorStatus(new TypeError('x'))).toBe(500);
  });

  it('leaves a malformed trace id off', () => {
    expect(toWireErrorResponse(new InternalError('m'), 'r', 'not-a-trace')).not.toHaveProperty('trace_id');
  });
});

describe('query strings', () => {
  it('round-trips balances queries', () => {
    fc.assert(
      fc.property(arb.balancesQueryArb, (query) => {
        const params = new URLSearchParams(toBalancesQueryParams(query).toString());
        expect(fromBalancesQueryParams(params)).toStrictEqual({ ...query });
      }),
    );
  });

  it('round-trips list queries (time windows at millisecond precision)', () => {
    fc.assert(
      fc.property(arb.listReservationsQueryArb, (query) => {
        const params = new URLSearchParams(toListReservationsQueryParams(query).toString());
        const back = fromListReservationsQueryParams(params);
        expect({ ...back, include: back.include ?? [] }).toEqual({ ...query, include: query.include ?? [] });
      }),
    );
  });

  it('uses the spec parameter names and ISO 8601 windows', () => {
    const params = toListReservationsQueryParams({
      idempotencyKey: 'k',
      status: 'ACTIVE',
      tenant: 'acme',
      fromMs: Date.UTC(2026, 0, 1),
      toMs: Date.UTC(2026, 0, 2),
      expiresFromMs: 0,
      finalizedToMs: Date.UTC(2026, 0, 3, 4, 5, 6, 7),
      sortBy: 'created_at_ms',
      sortDir: 'asc',
      include: ['metadata', 'committed_metadata'],
      limit: 10,
      cursor: 'c1',
    });
    expect(Object.fromEntries(params)).toEqual({
      idempotency_key: 'k',
      status: 'ACTIVE',
      tenant: 'acme',
      from: '2026-01-01T00:00:00.000Z',
      to: '2026-01-02T00:00:00.000Z',
      expires_from: '1970-01-01T00:00:00.000Z',
      finalized_to: '2026-01-03T04:05:06.007Z',
      sort_by: 'created_at_ms',
      sort_dir: 'asc',
      include: 'metadata,committed_metadata',
      limit: '10',
      cursor: 'c1',
    });
    expect(
      Object.fromEntries(toBalancesQueryParams({ tenant: 'acme', includeChildren: true, limit: 5 })),
    ).toEqual({
      tenant: 'acme',
      include_children: 'true',
      limit: '5',
    });
  });

  it('treats blank values as unset', () => {
    const params = new URLSearchParams(
      'from=&to=%20&expires_from=&finalized_to=&tenant=acme&include=&cursor=',
    );
    expect(fromListReservationsQueryParams(params)).toEqual({ tenant: 'acme' });
    expect(fromBalancesQueryParams(new URLSearchParams('tenant=acme&limit=&include_children='))).toEqual({
      tenant: 'acme',
    });
  });

  it('accepts offsets, fractions and exploded include tokens', () => {
    const query = fromListReservationsQueryParams(
      new URLSearchParams(
        'from=2026-01-01T01:00:00.5%2B01:00&include=metadata,%20evidence,&include=metadata,future',
      ),
    );
    expect(query.fromMs).toBe(Date.UTC(2026, 0, 1, 0, 0, 0, 500));
    expect(query.include).toEqual(['metadata', 'evidence', 'future']);
  });

  it.each([
    ['from=yesterday', 'from'],
    ['to=1700000000000', 'to'],
    ['expires_to=2026-13-01T00:00:00Z', 'expires_to'],
    ['status=PENDING', 'status'],
    ['sort_by=amount', 'sort_by'],
    ['sort_dir=up', 'sort_dir'],
    ['limit=ten', 'limit'],
    ['limit=1.5', 'limit'],
  ])('rejects %s with INVALID_REQUEST naming the parameter', (query, field) => {
    let thrown: unknown;
    try {
      fromListReservationsQueryParams(new URLSearchParams(query));
    } catch (error) {
      thrown = error;
    }
    expect(InvalidRequestError.isInstance(thrown)).toBe(true);
    expect((thrown as InvalidRequestError).details).toEqual({ field });
  });

  it('rejects a non-boolean include_children', () => {
    expect(() => fromBalancesQueryParams(new URLSearchParams('tenant=a&include_children=maybe'))).toThrow(
      /include_children/,
    );
  });

  it('leaves range rules to the validators (limit=0 parses)', () => {
    expect(fromBalancesQueryParams(new URLSearchParams('tenant=a&limit=0'))).toEqual({
      tenant: 'a',
      limit: 0,
    });
  });
});
