import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IdSource } from '../ledger/ids.ts';
import { blankReservation, type ReservationRow, rowNaming } from '../ledger/reservations.ts';
import type { ReservationStatus } from '../protocol/enums.ts';
import type {
  ListReservationsQuery,
  ListReservationsResponse,
  ReservationSortKey,
} from '../protocol/types.ts';
import { queryReservations, type StoredReservation, storedNaming } from './reservation-query.ts';

// List queries are the kit's: the memory ledger runs them over its rows, the Redis ledger over what its
// scripts return. Checked here against a plain model (filters, order, paging, projection), and for
// the same reservations kept both ways.

const small = <T>(...values: T[]) => fc.constantFrom(...values);
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

/** What each sort key orders by (a Record, so the compiler lists every key of the protocol). */
const SORT_VALUES: Record<ReservationSortKey, (row: StoredReservation) => string | number> = {
  reservation_id: (row) => row.reservationId,
  tenant: (row) => row.tenant ?? '',
  scope_path: (row) => row.scopePath,
  status: (row) => row.status,
  reserved: (row) => row.estimate,
  created_at_ms: (row) => row.createdAtMs,
  expires_at_ms: (row) => row.expiresAtMs,
};

/** Reservations without ids (given in order below); tiny domains, so ties and matches are frequent. */
const reservationArb = fc.record({
  tenant: small<string | undefined>(undefined, 'acme', 'globex'),
  status: small<ReservationStatus>('ACTIVE', 'COMMITTED', 'RELEASED', 'EXPIRED'),
  subject: fc.record(
    { tenant: small('acme', 'ACME', 'globex'), app: small('chat', 'Chat', 'mail') },
    { requiredKeys: ['tenant'] },
  ),
  estimate: small(1, 2),
  scopePath: small('tenant:acme', 'tenant:acme/app:chat'),
  createdAtMs: small(0, 10, 20),
  expiresAtMs: small(30, 40),
  endedAtMs: small(50, 60),
  idempotencyKey: small('k1', 'k2'),
  metadata: maybe(small({ a: 1 })),
  committed: maybe(small(0, 1)),
  committedMetadata: maybe(small({ b: 2 })),
});
type Generated = typeof reservationArb extends fc.Arbitrary<infer T> ? T : never;

const queryArb: fc.Arbitrary<ListReservationsQuery> = fc.record(
  {
    idempotencyKey: small('', 'k1'),
    status: small<ReservationStatus>('ACTIVE', 'COMMITTED'),
    tenant: small('', 'acme', 'Acme'),
    app: small('', 'chat', 'CHAT', 'mail'),
    fromMs: small(0, 10),
    toMs: small(10, 20),
    expiresFromMs: small(35),
    finalizedToMs: small(55),
    sortBy: small(...(Object.keys(SORT_VALUES) as ReservationSortKey[])),
    sortDir: small<'asc' | 'desc'>('asc', 'desc'),
    include: fc.subarray(['metadata', 'committed_metadata']),
    limit: fc.integer({ min: 1, max: 4 }),
  },
  { requiredKeys: [] },
);

function finalizedOf(status: ReservationStatus, endedAtMs: number): number | undefined {
  return status === 'COMMITTED' || status === 'RELEASED' ? endedAtMs : undefined;
}

/** The same reservations as the memory ledger keeps them and as a decoded StoredReservation. */
function bothWays(generated: Generated[]): { rows: ReservationRow[]; stored: StoredReservation[] } {
  const ids = new IdSource();
  const rows: ReservationRow[] = [];
  const stored: StoredReservation[] = [];
  for (const { endedAtMs, ...fields } of generated) {
    const reservationId = ids.next('rsv_');
    const row = Object.assign(blankReservation(), fields, { affectedScopes: [fields.scopePath] });
    row.action = { kind: 'llm.completion', name: 'm' };
    row.sequence = ids.last;
    row.ids = ids;
    row.endedAtMs = fields.status === 'ACTIVE' ? 0 : endedAtMs;
    rows.push(row);
    stored.push({
      ...fields,
      action: row.action,
      unit: row.unit,
      affectedScopes: row.affectedScopes,
      reservationId,
      finalizedAtMs: finalizedOf(fields.status, endedAtMs),
    });
  }
  return { rows, stored };
}

/** Every page, following the cursors. */
function allPages(run: (cursor: string | undefined) => ListReservationsResponse, limit: number) {
  const pages: ListReservationsResponse[] = [];
  let cursor: string | undefined;
  do {
    const answer = run(cursor);
    pages.push(answer);
    expect(answer.reservations.length).toBeLessThanOrEqual(limit);
    expect(answer.hasMore).toBe(answer.nextCursor !== undefined);
    cursor = answer.nextCursor;
  } while (cursor !== undefined && pages.length < 100);
  return pages;
}

/** The model: what a list query answers, written plainly. */
function model(stored: StoredReservation[], query: ListReservationsQuery, tenant: string | undefined) {
  const blank = (value: string | undefined) => value === undefined || value === '';
  const inRange = (value: number | undefined, from?: number, to?: number) =>
    (from === undefined && to === undefined) ||
    (value !== undefined && (from === undefined || value >= from) && (to === undefined || value <= to));
  const kept = stored.filter(
    (row) =>
      (tenant === undefined || row.tenant === tenant) &&
      (blank(query.idempotencyKey) || row.idempotencyKey === query.idempotencyKey) &&
      (query.status === undefined || row.status === query.status) &&
      (blank(query.tenant) || row.subject.tenant?.toLowerCase() === query.tenant?.toLowerCase()) &&
      (blank(query.app) || row.subject.app?.toLowerCase() === query.app?.toLowerCase()) &&
      inRange(row.createdAtMs, query.fromMs, query.toMs) &&
      inRange(row.expiresAtMs, query.expiresFromMs, query.expiresToMs) &&
      inRange(row.finalizedAtMs, query.finalizedFromMs, query.finalizedToMs),
  );
  const keyOf = (row: StoredReservation) => SORT_VALUES[query.sortBy ?? 'created_at_ms'](row);
  const sign = query.sortDir === 'asc' ? 1 : -1;
  return kept.sort((a, b) => {
    const [left, right] = [keyOf(a), keyOf(b)];
    if (left !== right) return left < right ? -sign : sign;
    return a.reservationId < b.reservationId ? -sign : sign;
  });
}

describe('ledger kit: reservation list queries', () => {
  it('filter, order, page and project as the model says, for memory rows and stored reservations alike', () => {
    fc.assert(
      fc.property(
        fc.array(reservationArb, { maxLength: 12 }),
        queryArb,
        small<string | undefined>(undefined, 'acme'),
        (generated, query, tenant) => {
          const { rows, stored } = bothWays(generated);
          const limit = query.limit ?? 50;
          const fromRows = allPages(
            (cursor) => queryReservations(rows, { ...query, cursor }, tenant, rowNaming),
            limit,
          );
          const fromStored = allPages(
            (cursor) => queryReservations(stored, { ...query, cursor }, tenant, storedNaming),
            limit,
          );
          expect(fromStored).toEqual(fromRows);

          const listed = fromStored.flatMap((answer) => answer.reservations);
          const expected = model(stored, query, tenant);
          expect(listed.map((detail) => detail.reservationId)).toEqual(
            expected.map((row) => row.reservationId),
          );
          const include = query.include ?? [];
          listed.forEach((detail, index) => {
            const row = expected[index]!;
            expect(detail.metadata).toEqual(include.includes('metadata') ? row.metadata : undefined);
            expect(detail.committedMetadata).toEqual(
              include.includes('committed_metadata') ? row.committedMetadata : undefined,
            );
            expect(detail.finalizedAtMs).toBe(row.finalizedAtMs);
            expect(detail.reserved).toEqual({ unit: row.unit, amount: row.estimate });
          });
        },
      ),
      { numRuns: 400 },
    );
  });

  it('refuses a cursor no ledger issued, naming cursor', () => {
    expect(() => queryReservations([], { cursor: 'garbage' }, undefined, storedNaming)).toThrow(
      expect.objectContaining({ code: 'INVALID_REQUEST', details: { field: 'cursor' } }),
    );
  });
});
