import { type ReservationStatus, SUBJECT_LEVELS, type Unit } from '../protocol/enums.ts';
import type {
  Action,
  ListReservationsQuery,
  ListReservationsResponse,
  Metadata,
  ReservationDetail,
  Subject,
} from '../protocol/types.ts';
import { compareText, decodeCursor, page } from './paging.ts';

// Reservation reads: the protocol detail of a stored reservation, and list filtering, sorting and
// paging. Each ledger reads its own storage into these fields; the rules of the answer live here once.

/** What a ledger keeps of a reservation that reads and list queries show. */
export interface ReservationFields {
  /** The tenant it counts against, lower-cased (the subject's, else the caller's); undefined for none. */
  tenant: string | undefined;
  status: ReservationStatus;
  subject: Subject;
  action: Action;
  unit: Unit;
  /** The amount held. */
  estimate: number;
  scopePath: string;
  affectedScopes: string[];
  createdAtMs: number;
  expiresAtMs: number;
  idempotencyKey: string;
  metadata: Metadata | undefined;
  committed: number | undefined;
  committedMetadata: Metadata | undefined;
}

/**
 * How a ledger names a stored reservation: its id, and when a commit or release finalized it
 * (undefined while ACTIVE and for an expiry). The memory ledger derives both from compact fields.
 */
export interface ReservationNaming<T> {
  id(row: T): string;
  finalizedAt(row: T): number | undefined;
}

/** A reservation that carries its id and finalization time as fields (e.g. decoded from storage). */
export interface StoredReservation extends ReservationFields {
  reservationId: string;
  finalizedAtMs: number | undefined;
}

/** The naming of a {@link StoredReservation}. */
export const storedNaming: ReservationNaming<StoredReservation> = {
  id: (row) => row.reservationId,
  finalizedAt: (row) => row.finalizedAtMs,
};

/** The protocol view of a reservation; `include` projects metadata (both by default). */
export function reservationDetail<T extends ReservationFields>(
  row: T,
  naming: ReservationNaming<T>,
  include?: readonly string[],
): ReservationDetail {
  const detail: ReservationDetail = {
    reservationId: naming.id(row),
    status: row.status,
    idempotencyKey: row.idempotencyKey,
    subject: row.subject,
    action: row.action,
    reserved: { unit: row.unit, amount: row.estimate },
    createdAtMs: row.createdAtMs,
    expiresAtMs: row.expiresAtMs,
    scopePath: row.scopePath,
    affectedScopes: row.affectedScopes,
  };
  if (row.committed !== undefined) detail.committed = { unit: row.unit, amount: row.committed };
  const finalizedAtMs = naming.finalizedAt(row);
  if (finalizedAtMs !== undefined) detail.finalizedAtMs = finalizedAtMs;
  if (row.metadata !== undefined && (include === undefined || include.includes('metadata'))) {
    detail.metadata = row.metadata;
  }
  if (
    row.committedMetadata !== undefined &&
    (include === undefined || include.includes('committed_metadata'))
  ) {
    detail.committedMetadata = row.committedMetadata;
  }
  return detail;
}

function within(value: number | undefined, from: number | undefined, to: number | undefined): boolean {
  if (from === undefined && to === undefined) return true;
  if (value === undefined) return false;
  return (from === undefined || value >= from) && (to === undefined || value <= to);
}

function sortValue<T extends ReservationFields>(row: T, key: string, naming: ReservationNaming<T>) {
  switch (key) {
    case 'reservation_id':
      return naming.id(row);
    case 'tenant':
      return row.tenant ?? '';
    case 'scope_path':
      return row.scopePath;
    case 'status':
      return row.status;
    case 'reserved':
      return row.estimate;
    case 'expires_at_ms':
      return row.expiresAtMs;
    default:
      return row.createdAtMs;
  }
}

/** Whether a reservation passes every filter of a list query (all ANDed; blank = unset). */
function matches<T extends ReservationFields>(
  row: T,
  query: ListReservationsQuery,
  tenant: string | undefined,
  naming: ReservationNaming<T>,
): boolean {
  if (tenant !== undefined && row.tenant !== tenant) return false;
  if (query.idempotencyKey !== undefined && query.idempotencyKey !== '') {
    if (row.idempotencyKey !== query.idempotencyKey) return false;
  }
  if (query.status !== undefined && row.status !== query.status) return false;
  for (const level of SUBJECT_LEVELS) {
    const wanted = query[level];
    if (wanted !== undefined && wanted !== '' && row.subject[level]?.toLowerCase() !== wanted.toLowerCase()) {
      return false;
    }
  }
  return (
    within(row.createdAtMs, query.fromMs, query.toMs) &&
    within(row.expiresAtMs, query.expiresFromMs, query.expiresToMs) &&
    within(naming.finalizedAt(row), query.finalizedFromMs, query.finalizedToMs)
  );
}

/**
 * Filters, sorts and pages reservations for listReservations: only `tenant`'s when the caller is bound
 * to one (lower-cased), sorted by `sortBy` (default created_at_ms, descending) with the id breaking
 * ties, metadata projected by `include`.
 */
export function queryReservations<T extends ReservationFields>(
  rows: Iterable<T>,
  query: ListReservationsQuery,
  tenant: string | undefined,
  naming: ReservationNaming<T>,
): ListReservationsResponse {
  const selected: T[] = [];
  for (const row of rows) if (matches(row, query, tenant, naming)) selected.push(row);
  const sortBy = query.sortBy ?? 'created_at_ms';
  const direction = query.sortDir === 'asc' ? 1 : -1;
  selected.sort((a, b) => {
    const left = sortValue(a, sortBy, naming);
    const right = sortValue(b, sortBy, naming);
    if (left !== right) return (left < right ? -1 : 1) * direction;
    return compareText(naming.id(a), naming.id(b)) * direction;
  });
  const result = page(selected, decodeCursor(query.cursor), query.limit ?? 50);
  const include = query.include ?? [];
  const response: ListReservationsResponse = {
    reservations: result.items.map((row) => reservationDetail(row, naming, include)),
    hasMore: result.hasMore,
  };
  if (result.nextCursor !== undefined) response.nextCursor = result.nextCursor;
  return response;
}
