import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import { createMemoryLedger } from '../../src/ledger/memory-ledger.ts';
import type { Ledger } from '../../src/ledger/types.ts';
import type { ErrorCode } from '../../src/protocol/enums.ts';
import { CyclesError } from '../../src/protocol/errors.ts';
import {
  fromBalancesQueryParams,
  fromListReservationsQueryParams,
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
  toWireBalancesResponse,
  toWireCommitRequest,
  toWireCommitResponse,
  toWireDecideRequest,
  toWireDecideResponse,
  toWireErrorResponse,
  toWireEventRequest,
  toWireEventResponse,
  toWireExtendRequest,
  toWireExtendResponse,
  toWireListReservationsResponse,
  toWireReleaseRequest,
  toWireReleaseResponse,
  toWireReservationDetail,
  toWireReserveRequest,
  toWireReserveResponse,
  wireErrorStatus,
} from '../../src/protocol/mappers.ts';
import type {
  BalancesQuery,
  BalancesResponse,
  CommitRequest,
  CommitResponse,
  DecideRequest,
  DecideResponse,
  EventRequest,
  EventResponse,
  ExtendRequest,
  ExtendResponse,
  ListReservationsQuery,
  ListReservationsResponse,
  ReleaseRequest,
  ReleaseResponse,
  ReservationDetail,
  ReserveRequest,
  ReserveResponse,
} from '../../src/protocol/types.ts';
import type { WireErrorResponse } from '../../src/protocol/wire.ts';
import { toWireField } from '../../src/protocol/wire-names.ts';
import { assertValidAgainstSpec, validateQueryAgainstSpec } from './spec.ts';

/*
 * Drives the embedded memory ledger through the wire, the way an HTTP server in front of it would:
 * every request is mapped to its wire form, checked against the spec, sent through JSON and mapped
 * back; every response (and every error, via toWireErrorResponse) likewise. A shape the ledger
 * produces that the spec forbids fails here.
 */

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const json = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** API-only extension fields that never cross the wire. */
const EXTENSION_FIELDS = ['minimum', 'partial'];

/**
 * One wire crossing: API → wire (validated) → JSON → API. Also checks nothing but the extension
 * fields was lost on the way, so a field the ledger fills that the mappers do not carry fails here.
 */
function cross<A, W>(schema: string, value: A, toWire: (api: A) => W, fromWire: (wire: W) => A): A {
  const wire = json(toWire(value));
  assertValidAgainstSpec(schema, wire);
  const back = fromWire(wire);
  const expected = json(value) as Record<string, unknown>;
  for (const field of EXTENSION_FIELDS) delete expected[field];
  expect(back).toEqual(expected);
  return back;
}

/** The ledger behind a simulated HTTP server: each method crosses the wire twice. */
function overTheWire(ledger: Ledger) {
  return {
    reserve: async (request: ReserveRequest): Promise<ReserveResponse> => {
      const received = cross(
        'ReservationCreateRequest',
        request,
        toWireReserveRequest,
        fromWireReserveRequest,
      );
      const response = await ledger.reserve(received);
      return cross('ReservationCreateResponse', response, toWireReserveResponse, fromWireReserveResponse);
    },
    commit: async (id: string, request: CommitRequest): Promise<CommitResponse> => {
      const received = cross('CommitRequest', request, toWireCommitRequest, fromWireCommitRequest);
      const response = await ledger.commit(id, received);
      return cross('CommitResponse', response, toWireCommitResponse, fromWireCommitResponse);
    },
    release: async (id: string, request: ReleaseRequest): Promise<ReleaseResponse> => {
      const received = cross('ReleaseRequest', request, toWireReleaseRequest, fromWireReleaseRequest);
      const response = await ledger.release(id, received);
      return cross('ReleaseResponse', response, toWireReleaseResponse, fromWireReleaseResponse);
    },
    extend: async (id: string, request: ExtendRequest): Promise<ExtendResponse> => {
      const received = cross('ReservationExtendRequest', request, toWireExtendRequest, fromWireExtendRequest);
      const response = await ledger.extend(id, received);
      return cross('ReservationExtendResponse', response, toWireExtendResponse, fromWireExtendResponse);
    },
    decide: async (request: DecideRequest): Promise<DecideResponse> => {
      const received = cross('DecisionRequest', request, toWireDecideRequest, fromWireDecideRequest);
      const response = await ledger.decide(received);
      return cross('DecisionResponse', response, toWireDecideResponse, fromWireDecideResponse);
    },
    createEvent: async (request: EventRequest): Promise<EventResponse> => {
      const received = cross('EventCreateRequest', request, toWireEventRequest, fromWireEventRequest);
      const response = await ledger.createEvent(received);
      return cross('EventCreateResponse', response, toWireEventResponse, fromWireEventResponse);
    },
    getBalances: async (query: BalancesQuery): Promise<BalancesResponse> => {
      const params = new URLSearchParams(toBalancesQueryParams(query).toString());
      expect(validateQueryAgainstSpec('/v1/balances', 'get', params).errors).toEqual([]);
      const response = await ledger.getBalances(fromBalancesQueryParams(params));
      return cross('BalanceResponse', response, toWireBalancesResponse, fromWireBalancesResponse);
    },
    getReservation: async (id: string): Promise<ReservationDetail> => {
      const response = await ledger.getReservation(id);
      return cross('ReservationDetail', response, toWireReservationDetail, fromWireReservationDetail);
    },
    listReservations: async (query: ListReservationsQuery): Promise<ListReservationsResponse> => {
      const params = new URLSearchParams(toListReservationsQueryParams(query).toString());
      expect(validateQueryAgainstSpec('/v1/reservations', 'get', params).errors).toEqual([]);
      const response = await ledger.listReservations(fromListReservationsQueryParams(params));
      return cross(
        'ReservationListResponse',
        response,
        toWireListReservationsResponse,
        fromWireListReservationsResponse,
      );
    },
  };
}

/**
 * Runs `operation`, which must fail with `code`; checks the error's wire form against ErrorResponse
 * and that a client reading it back gets the same typed error.
 */
async function expectWireError(
  operation: () => Promise<unknown>,
  code: ErrorCode,
): Promise<WireErrorResponse> {
  let thrown: unknown;
  try {
    await operation();
  } catch (error) {
    thrown = error;
  }
  expect(CyclesError.isInstance(thrown), `expected a CyclesError ${code}, got ${String(thrown)}`).toBe(true);
  const error = thrown as CyclesError;
  expect(error.code).toBe(code);
  const body = json(toWireErrorResponse(error, 'req_1', TRACE_ID));
  assertValidAgainstSpec('ErrorResponse', body);
  const status = wireErrorStatus(error);
  expect(status).toBe(error.status);
  const back = fromWireErrorResponse(body, status);
  const { field, deny_detail: denyDetail, ...rest } = (back.details ?? {}) as Record<string, unknown>;
  const { field: apiField, ...apiRest } = (error.details ?? {}) as Record<string, unknown>;
  expect({ code: back.code, details: rest }).toEqual({ code: error.code, details: json(apiRest) });
  // Over the wire, fields carry the protocol's names and a denial its deny_detail (v0.1.26).
  if (apiField !== undefined) expect(field).toBe(toWireField(String(apiField)));
  else expect(back.message).toBe(error.message);
  if (DENIALS.includes(code)) {
    expect(denyDetail).toMatchObject({ reason_code: code, blocked_by_scope: error.details?.scope });
    assertValidAgainstSpec('DenyDetail', denyDetail);
  } else expect(denyDetail).toBeUndefined();
  return body;
}

const DENIALS: readonly ErrorCode[] = [
  'BUDGET_EXCEEDED',
  'BUDGET_FROZEN',
  'BUDGET_CLOSED',
  'OVERDRAFT_LIMIT_EXCEEDED',
  'DEBT_OUTSTANDING',
];
const USD = 'USD_MICROCENTS' as const;
const usd = (amount: number) => ({ unit: USD, amount });
const action = { kind: 'llm.completion', name: 'anthropic.claude-sonnet', tags: ['prod'] };
const acme = { tenant: 'acme' };
const capped = { tenant: 'acme', agent: 'capped' };

let clock: ManualClock;
let ledger: Ledger;
let api: ReturnType<typeof overTheWire>;
let keySeq = 0;
const key = () => `key-${++keySeq}`;

beforeEach(() => {
  clock = new ManualClock();
  ledger = createMemoryLedger({
    clock,
    sweepIntervalMs: 0,
    ledgers: [
      { scope: 'tenant:acme', unit: USD, allocated: 1_000_000 },
      {
        scope: 'tenant:acme/agent:capped',
        unit: USD,
        allocated: 100_000,
        caps: { maxTokens: 256, toolDenylist: ['shell'] },
      },
    ],
  });
  api = overTheWire(ledger);
});

describe('memory ledger over the wire: every response validates against the spec', () => {
  it('reserve: dry_run ALLOW, dry_run DENY, live ALLOW and ALLOW_WITH_CAPS', async () => {
    const dry = await api.reserve({
      idempotencyKey: key(),
      subject: acme,
      action,
      estimate: usd(1_000),
      dryRun: true,
    });
    expect(dry.decision).toBe('ALLOW');
    // Spec rules beyond the schema: no live-reservation fields on dry_run or DENY; caps iff ALLOW_WITH_CAPS.
    expect(dry.reservationId).toBeUndefined();
    expect(dry.remainingTtlMs).toBeUndefined();
    expect(dry.caps).toBeUndefined();

    const dryDeny = await api.reserve({
      idempotencyKey: key(),
      subject: acme,
      action,
      estimate: usd(5_000_000),
      dryRun: true,
    });
    expect(dryDeny.decision).toBe('DENY');
    expect(dryDeny.reasonCode).toBe('BUDGET_EXCEEDED');
    expect(dryDeny.reservationId).toBeUndefined();
    expect(dryDeny.remainingTtlMs).toBeUndefined();

    const live = await api.reserve({
      idempotencyKey: key(),
      subject: acme,
      action,
      estimate: usd(1_000),
      ttlMs: 30_000,
      gracePeriodMs: 1_000,
      overagePolicy: 'ALLOW_IF_AVAILABLE',
      metadata: { run: 42 },
    });
    expect(live.decision).toBe('ALLOW');
    expect(live.reservationId).toBeDefined();
    expect(live.caps).toBeUndefined();
    expect(live.remainingTtlMs).toBe(30_000);

    const withCaps = await api.reserve({
      idempotencyKey: key(),
      subject: capped,
      action,
      estimate: usd(1_000),
    });
    expect(withCaps.decision).toBe('ALLOW_WITH_CAPS');
    expect(withCaps.caps).toEqual({ maxTokens: 256, toolDenylist: ['shell'] });
    expect(withCaps.affectedScopes).toEqual(['tenant:acme', 'tenant:acme/agent:capped']);
  });

  it('reserve with the minimum extension: a partial hold crosses the wire as a plain ALLOW', async () => {
    const request = {
      idempotencyKey: key(),
      subject: capped,
      action,
      estimate: usd(250_000),
      minimum: 1_000,
    };
    const direct = await ledger.reserve({ ...request, idempotencyKey: key() });
    expect(direct.partial).toBe(true);
    const wire = toWireReserveResponse(direct);
    expect(wire).not.toHaveProperty('partial');
    assertValidAgainstSpec('ReservationCreateResponse', json(wire));
    // A protocol server never sees `minimum`, so over the wire the same request is all-or-nothing.
    await expectWireError(() => api.reserve(request), 'BUDGET_EXCEEDED');
  });

  it('commit (under and over the estimate), release, extend', async () => {
    const first = await api.reserve({ idempotencyKey: key(), subject: acme, action, estimate: usd(1_000) });
    const committed = await api.commit(first.reservationId!, {
      idempotencyKey: key(),
      actual: usd(400),
      metrics: {
        tokensInput: 10,
        tokensOutput: 20,
        latencyMs: 300,
        modelVersion: 'v1',
        custom: { cache: true },
      },
      metadata: { step: 1 },
    });
    expect(committed).toMatchObject({ status: 'COMMITTED', charged: usd(400), released: usd(600) });

    const second = await api.reserve({ idempotencyKey: key(), subject: acme, action, estimate: usd(1_000) });
    const over = await api.commit(second.reservationId!, { idempotencyKey: key(), actual: usd(1_500) });
    expect(over.charged).toEqual(usd(1_500));

    const third = await api.reserve({ idempotencyKey: key(), subject: capped, action, estimate: usd(2_000) });
    const released = await api.release(third.reservationId!, {
      idempotencyKey: key(),
      reason: 'user cancelled',
    });
    expect(released).toMatchObject({ status: 'RELEASED', released: usd(2_000) });

    const fourth = await api.reserve({
      idempotencyKey: key(),
      subject: acme,
      action,
      estimate: usd(1),
      ttlMs: 10_000,
    });
    const extended = await api.extend(fourth.reservationId!, {
      idempotencyKey: key(),
      extendByMs: 5_000,
      metadata: { why: 'slow model' },
    });
    expect(extended.status).toBe('ACTIVE');
    expect(extended.expiresAtMs).toBe(fourth.expiresAtMs! + 5_000);
  });

  it('decide: ALLOW, ALLOW_WITH_CAPS and DENY', async () => {
    expect(
      (await api.decide({ idempotencyKey: key(), subject: acme, action, estimate: usd(10) })).decision,
    ).toBe('ALLOW');
    expect(
      (await api.decide({ idempotencyKey: key(), subject: capped, action, estimate: usd(10) })).decision,
    ).toBe('ALLOW_WITH_CAPS');
    const deny = await api.decide({ idempotencyKey: key(), subject: acme, action, estimate: usd(9_000_000) });
    expect(deny.decision).toBe('DENY');
    expect(deny.reasonCode).toBe('BUDGET_EXCEEDED');
  });

  it('events: applied in full, and capped (charged) under ALLOW_IF_AVAILABLE', async () => {
    const applied = await api.createEvent({
      idempotencyKey: key(),
      subject: capped,
      action,
      actual: usd(1_000),
      metrics: { tokensInput: 1 },
      clientTimeMs: clock.now(),
      metadata: { source: 'batch' },
    });
    expect(applied.status).toBe('APPLIED');
    expect(applied.eventId).not.toBe('');

    const cappedEvent = await api.createEvent({
      idempotencyKey: key(),
      subject: capped,
      action,
      actual: usd(500_000),
      overagePolicy: 'ALLOW_IF_AVAILABLE',
    });
    expect(cappedEvent.charged).toEqual(usd(99_000));
  });

  it('balances, get and list reservations (with filters, windows, sort and include)', async () => {
    const live = await api.reserve({
      idempotencyKey: 'list-me',
      subject: capped,
      action,
      estimate: usd(3_000),
      metadata: { a: 1 },
    });
    const done = await api.reserve({ idempotencyKey: key(), subject: acme, action, estimate: usd(1_000) });
    await api.commit(done.reservationId!, { idempotencyKey: key(), actual: usd(700), metadata: { b: 2 } });

    const balances = await api.getBalances({ tenant: 'acme', includeChildren: true, limit: 50 });
    expect(balances.balances.map((balance) => balance.scopePath).sort()).toEqual([
      'tenant:acme',
      'tenant:acme/agent:capped',
    ]);

    const detail = await api.getReservation(live.reservationId!);
    expect(detail).toMatchObject({ status: 'ACTIVE', reserved: usd(3_000), metadata: { a: 1 } });
    const finished = await api.getReservation(done.reservationId!);
    expect(finished).toMatchObject({ status: 'COMMITTED', committed: usd(700), committedMetadata: { b: 2 } });

    const all = await api.listReservations({
      tenant: 'acme',
      fromMs: clock.now() - 1_000,
      toMs: clock.now() + 1_000,
      expiresFromMs: clock.now(),
      sortBy: 'created_at_ms',
      sortDir: 'asc',
      include: ['metadata', 'committed_metadata'],
      limit: 10,
    });
    expect(all.reservations).toHaveLength(2);

    const byKey = await api.listReservations({ idempotencyKey: 'list-me', status: 'ACTIVE' });
    expect(byKey.reservations.map((row) => row.reservationId)).toEqual([live.reservationId]);

    const finalized = await api.listReservations({ finalizedFromMs: clock.now() - 1, limit: 1 });
    expect(finalized.reservations.map((row) => row.reservationId)).toEqual([done.reservationId]);
  });
});

describe('memory ledger over the wire: every error maps to a valid ErrorResponse', () => {
  it('INVALID_REQUEST, NOT_FOUND, BUDGET_EXCEEDED', async () => {
    await expectWireError(
      () =>
        ledger.reserve({
          idempotencyKey: key(),
          subject: { dimensions: { a: 'b' } },
          action,
          estimate: usd(1),
        }),
      'INVALID_REQUEST',
    );
    await expectWireError(
      () => api.commit('no-such-id', { idempotencyKey: key(), actual: usd(1) }),
      'NOT_FOUND',
    );
    await expectWireError(() => api.getReservation('no-such-id'), 'NOT_FOUND');
    await expectWireError(
      () => api.reserve({ idempotencyKey: key(), subject: acme, action, estimate: usd(2_000_000) }),
      'BUDGET_EXCEEDED',
    );
  });

  it('UNIT_MISMATCH, IDEMPOTENCY_MISMATCH, RESERVATION_FINALIZED', async () => {
    await expectWireError(
      () =>
        api.reserve({
          idempotencyKey: key(),
          subject: acme,
          action,
          estimate: { unit: 'TOKENS', amount: 1 },
        }),
      'UNIT_MISMATCH',
    );
    const held = await api.reserve({ idempotencyKey: 'same', subject: acme, action, estimate: usd(10) });
    await expectWireError(
      () => api.reserve({ idempotencyKey: 'same', subject: acme, action, estimate: usd(11) }),
      'IDEMPOTENCY_MISMATCH',
    );
    await expectWireError(
      () => api.commit(held.reservationId!, { idempotencyKey: key(), actual: { unit: 'TOKENS', amount: 1 } }),
      'UNIT_MISMATCH',
    );
    await api.commit(held.reservationId!, { idempotencyKey: key(), actual: usd(5) });
    await expectWireError(
      () => api.release(held.reservationId!, { idempotencyKey: key() }),
      'RESERVATION_FINALIZED',
    );
  });

  it('RESERVATION_EXPIRED (commit, extend and get) and MAX_EXTENSIONS_EXCEEDED', async () => {
    const held = await api.reserve({
      idempotencyKey: key(),
      subject: acme,
      action,
      estimate: usd(10),
      ttlMs: 1_000,
      gracePeriodMs: 0,
    });
    clock.advance(2_000);
    await expectWireError(
      () => api.commit(held.reservationId!, { idempotencyKey: key(), actual: usd(1) }),
      'RESERVATION_EXPIRED',
    );
    await expectWireError(
      () => api.extend(held.reservationId!, { idempotencyKey: key(), extendByMs: 1_000 }),
      'RESERVATION_EXPIRED',
    );
    await expectWireError(() => api.getReservation(held.reservationId!), 'RESERVATION_EXPIRED');

    await ledger.setTenant('acme', { maxReservationExtensions: 1 });
    const long = await api.reserve({ idempotencyKey: key(), subject: acme, action, estimate: usd(10) });
    await api.extend(long.reservationId!, { idempotencyKey: key(), extendByMs: 1_000 });
    await expectWireError(
      () => api.extend(long.reservationId!, { idempotencyKey: key(), extendByMs: 1_000 }),
      'MAX_EXTENSIONS_EXCEEDED',
    );
  });

  it('BUDGET_FROZEN, BUDGET_CLOSED', async () => {
    await ledger.setLedgerStatus('tenant:acme/agent:capped', USD, 'FROZEN');
    await expectWireError(
      () => api.reserve({ idempotencyKey: key(), subject: capped, action, estimate: usd(1) }),
      'BUDGET_FROZEN',
    );
    await ledger.setLedgerStatus('tenant:acme/agent:capped', USD, 'CLOSED');
    await expectWireError(
      () => api.reserve({ idempotencyKey: key(), subject: capped, action, estimate: usd(1) }),
      'BUDGET_CLOSED',
    );
  });

  it('OVERDRAFT_LIMIT_EXCEEDED and DEBT_OUTSTANDING', async () => {
    await ledger.createLedger({ scope: 'tenant:debtor', unit: USD, allocated: 100, overdraftLimit: 50 });
    const debtor = { tenant: 'debtor' };
    await expectWireError(
      () =>
        api.createEvent({
          idempotencyKey: key(),
          subject: debtor,
          action,
          actual: usd(1_000),
          overagePolicy: 'ALLOW_WITH_OVERDRAFT',
        }),
      'OVERDRAFT_LIMIT_EXCEEDED',
    );
    await api.createEvent({
      idempotencyKey: key(),
      subject: debtor,
      action,
      actual: usd(120),
      overagePolicy: 'ALLOW_WITH_OVERDRAFT',
    });
    const [balance] = (await api.getBalances({ tenant: 'debtor' })).balances;
    expect(balance?.debt).toEqual(usd(20));

    await ledger.updateLedger('tenant:debtor', USD, { overdraftLimit: 0 });
    // Debt with a zero limit is DEBT_OUTSTANDING (over-limit needs a positive limit to be beyond).
    const [after] = (await api.getBalances({ tenant: 'debtor' })).balances;
    expect(after?.isOverLimit).toBeUndefined();
    await expectWireError(
      () => api.reserve({ idempotencyKey: key(), subject: debtor, action, estimate: usd(1) }),
      'DEBT_OUTSTANDING',
    );
    const deny = await api.decide({ idempotencyKey: key(), subject: debtor, action, estimate: usd(1) });
    expect(deny).toMatchObject({ decision: 'DENY', reasonCode: 'DEBT_OUTSTANDING' });
  });

  it('FORBIDDEN and TENANT_CLOSED', async () => {
    await expectWireError(
      () =>
        ledger.reserve(
          { idempotencyKey: key(), subject: acme, action, estimate: usd(1) },
          { tenant: 'other' },
        ),
      'FORBIDDEN',
    );
    await ledger.setTenant('acme', { status: 'CLOSED' });
    await expectWireError(
      () => api.reserve({ idempotencyKey: key(), subject: acme, action, estimate: usd(1) }),
      'TENANT_CLOSED',
    );
  });
});
