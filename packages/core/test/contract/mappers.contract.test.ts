import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PROTOCOL_ERROR_CODES } from '../../src/protocol/enums.ts';
import { CyclesError, ModelNotPricedError } from '../../src/protocol/errors.ts';
import {
  fromWireCommitRequest,
  fromWireDecideResponse,
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
  toWireExtendRequest,
  toWireExtendResponse,
  toWireListReservationsResponse,
  toWireReleaseRequest,
  toWireReleaseResponse,
  toWireReservationDetail,
  toWireReservationSummary,
  toWireReserveRequest,
  toWireReserveResponse,
} from '../../src/protocol/mappers.ts';
import type {
  WireCommitRequest,
  WireDecisionResponse,
  WireReservationCreateRequest,
  WireReservationCreateResponse,
} from '../../src/protocol/wire.ts';
import * as arb from './arbitraries.ts';
import { assertValidAgainstSpec, spec, validateAgainstSpec, validateQueryAgainstSpec } from './spec.ts';

type Row = [schema: string, arbitrary: fc.Arbitrary<unknown>, toWire: (api: unknown) => unknown];

/** One table row; erases the per-row types (the arbitrary guarantees they line up). */
function row<A>(schema: string, arbitrary: fc.Arbitrary<A>, toWire: (api: A) => unknown): Row {
  return [schema, arbitrary, toWire as (api: unknown) => unknown];
}

const ROWS: Row[] = [
  row('ReservationCreateRequest', arb.reserveRequestArb, toWireReserveRequest),
  row('ReservationCreateResponse', arb.reserveResponseArb, toWireReserveResponse),
  row('CommitRequest', arb.commitRequestArb, toWireCommitRequest),
  row('CommitResponse', arb.commitResponseArb, toWireCommitResponse),
  row('ReleaseRequest', arb.releaseRequestArb, toWireReleaseRequest),
  row('ReleaseResponse', arb.releaseResponseArb, toWireReleaseResponse),
  row('ReservationExtendRequest', arb.extendRequestArb, toWireExtendRequest),
  row('ReservationExtendResponse', arb.extendResponseArb, toWireExtendResponse),
  row('DecisionRequest', arb.decideRequestArb, toWireDecideRequest),
  row('DecisionResponse', arb.decideResponseArb, toWireDecideResponse),
  row('EventCreateRequest', arb.eventRequestArb, toWireEventRequest),
  row('EventCreateResponse', arb.eventResponseArb, toWireEventResponse),
  row('Balance', arb.balanceArb, toWireBalance),
  row('BalanceResponse', arb.balancesResponseArb, toWireBalancesResponse),
  row('ReservationDetail', arb.reservationDetailArb, toWireReservationDetail),
  row('ReservationSummary', arb.reservationDetailArb, toWireReservationSummary),
  row('ReservationListResponse', arb.listReservationsResponseArb, toWireListReservationsResponse),
];

describe('mapper output validates against the spec', () => {
  it.each(ROWS)('%s', (schema, arbitrary, toWire) => {
    fc.assert(
      fc.property(arbitrary, (api) => {
        // Through JSON, as a real peer would see it.
        assertValidAgainstSpec(schema, JSON.parse(JSON.stringify(toWire(api))));
      }),
      { numRuns: 150 },
    );
  });

  it.each(ROWS)(
    '%s: one extra field makes it invalid (the validator is strict)',
    (schema, arbitrary, toWire) => {
      const [api] = fc.sample(arbitrary, { numRuns: 1, seed: 42 });
      const wire = { ...(toWire(api) as Record<string, unknown>), not_in_the_spec: true };
      const result = validateAgainstSpec(schema, wire);
      expect(result.valid).toBe(false);
      expect(result.errors.join()).toContain('not_in_the_spec');
    },
  );

  it('ErrorResponse for every protocol code, our extension codes and foreign errors', () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    for (const code of PROTOCOL_ERROR_CODES) {
      assertValidAgainstSpec(
        'ErrorResponse',
        toWireErrorResponse(
          new CyclesError(code, `${code} happened`, { details: { scope: 'tenant:acme' } }),
          'req_1',
          traceId,
        ),
      );
    }
    for (const code of ['AUTHORITY_UNAVAILABLE', 'MODEL_NOT_PRICED', 'INVALID_CONFIG'] as const) {
      assertValidAgainstSpec(
        'ErrorResponse',
        toWireErrorResponse(new CyclesError(code, 'ours'), 'req_1', traceId),
      );
    }
    assertValidAgainstSpec('ErrorResponse', toWireErrorResponse(new Error('boom'), 'req_1', traceId));
    assertValidAgainstSpec(
      'ErrorResponse',
      toWireErrorResponse(new ModelNotPricedError('m'), 'req_1', 'bad trace'),
    );
  });

  it('request query strings use only declared parameters with valid values', () => {
    fc.assert(
      fc.property(arb.listReservationsQueryArb, (query) => {
        const result = validateQueryAgainstSpec(
          '/v1/reservations',
          'get',
          toListReservationsQueryParams(query),
        );
        expect(result.errors).toEqual([]);
      }),
    );
    fc.assert(
      fc.property(arb.balancesQueryArb, (query) => {
        const result = validateQueryAgainstSpec('/v1/balances', 'get', toBalancesQueryParams(query));
        expect(result.errors).toEqual([]);
      }),
    );
  });
});

describe('the spec’s own examples survive fromWire → toWire unchanged', () => {
  const example = (name: string): unknown => spec.components.schemas[name]?.example;

  it.each([
    [
      'ReservationCreateRequest',
      (wire: unknown) => toWireReserveRequest(fromWireReserveRequest(wire as WireReservationCreateRequest)),
    ],
    [
      'ReservationCreateResponse',
      (wire: unknown) =>
        toWireReserveResponse(fromWireReserveResponse(wire as WireReservationCreateResponse)),
    ],
    [
      'CommitRequest',
      (wire: unknown) => toWireCommitRequest(fromWireCommitRequest(wire as WireCommitRequest)),
    ],
    [
      'DecisionResponse',
      (wire: unknown) => toWireDecideResponse(fromWireDecideResponse(wire as WireDecisionResponse)),
    ],
  ])('%s', (schema, roundTrip) => {
    const wire = example(schema);
    expect(wire).toBeDefined();
    assertValidAgainstSpec(schema, wire);
    expect(roundTrip(wire)).toEqual(wire);
  });
});
