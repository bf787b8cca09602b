import {
  SUBJECT_LEVELS as LEVELS,
  type OveragePolicy,
  type ReservationStatus,
  type Unit,
} from '../protocol/enums.ts';
import { invalid } from '../protocol/errors.ts';
import type {
  Action,
  Balance,
  CommitResponse,
  ExtendResponse,
  ListReservationsQuery,
  ListReservationsResponse,
  Metadata,
  ReleaseResponse,
  ReservationDetail,
  Subject,
} from '../protocol/types.ts';
import type { Fifo } from './fifo.ts';
import type { IdempotencyRecord } from './idempotency.ts';
import { IdSource } from './ids.ts';
import type { LedgerRow } from './ledger-row.ts';

// The reservation record of the memory ledger, its detail view and list-query evaluation.

/** A stored extend outcome on a reservation: replayed verbatim for the same key. */
export interface StoredExtend {
  fingerprint: number;
  response: ExtendResponse;
}

/** One tenant's reservations: finished ones in the order they ended, and how many it holds in all. */
export interface TenantReservations {
  readonly ended: Fifo<ReservationRow>;
  /** Live + retained reservations of the tenant. */
  held: number;
}

/** A reservation as the memory ledger keeps it. `rows` are exactly the ledgers the hold was placed on. */
export interface ReservationRow {
  /**
   * The counter its id was made from (the table key). The id string itself is rebuilt when needed
   * ({@link reservationIdOf}): a retained row keeping it would keep a young string alive into the old
   * generation per reservation.
   */
  sequence: number;
  /** The ledger's id source, which made the id. */
  ids: IdSource;
  tenant: string | undefined;
  status: ReservationStatus;
  subject: Subject;
  action: Action;
  unit: Unit;
  estimate: number;
  rows: LedgerRow[];
  scopePath: string;
  affectedScopes: string[];
  createdAtMs: number;
  expiresAtMs: number;
  graceMs: number;
  overagePolicy: OveragePolicy;
  extensions: number;
  maxExtensions: number;
  idempotencyKey: string;
  metadata: Metadata | undefined;
  committed: number | undefined;
  committedMetadata: Metadata | undefined;
  /**
   * The key and payload fingerprint of the commit or release that settled it. The response itself is
   * rebuilt from the row on replay (it is a pure function of status, estimate and committed), so a
   * retained row does not carry one.
   */
  settledKey: string | undefined;
  settledFingerprint: number;
  /** The balance snapshot of the settling response, kept only when the ledger includes balances. */
  settledBalances: Balance[] | undefined;
  extends: Map<string, StoredExtend> | undefined;
  /** The idempotency record of the reserve, pinned while ACTIVE. */
  reserveRecord: IdempotencyRecord<unknown> | undefined;
  /** Position in the ledger's list of ACTIVE reservations; -1 once ended. */
  activeIndex: number;
  /** When it left ACTIVE (for bounded retention); 0 while ACTIVE. */
  endedAtMs: number;
  /** Its tenant's reservations (whose bound it counts against). */
  owner: TenantReservations | undefined;
}

const NO_SUBJECT: Subject = Object.freeze({});
const NO_ACTION: Action = Object.freeze({ kind: '', name: '' });
const NO_ROWS: LedgerRow[] = [];
const NO_SCOPES: string[] = [];
const NO_IDS = new IdSource();

/** The reservation's id, as reserve returned it. */
export function reservationIdOf(row: ReservationRow): string {
  return row.ids.reservationId(row.sequence);
}

/**
 * A reservation with every field empty, for the memory ledger to open (fill in) as a new one. Rows are
 * recycled once retention forgets them ({@link resetReservation}): a retained row outlives young-GC
 * cycles, so each fresh one is copied into the old generation and collected there later.
 */
export function blankReservation(): ReservationRow {
  // A literal (not `{}` filled in by resetReservation) so V8 keeps every field inside the object.
  return {
    sequence: -1,
    ids: NO_IDS,
    tenant: undefined,
    status: 'ACTIVE',
    subject: NO_SUBJECT,
    action: NO_ACTION,
    unit: 'USD_MICROCENTS',
    estimate: 0,
    rows: NO_ROWS,
    scopePath: '',
    affectedScopes: NO_SCOPES,
    createdAtMs: 0,
    expiresAtMs: 0,
    graceMs: 0,
    overagePolicy: 'ALLOW_IF_AVAILABLE',
    extensions: 0,
    maxExtensions: 0,
    idempotencyKey: '',
    metadata: undefined,
    committed: undefined,
    committedMetadata: undefined,
    settledKey: undefined,
    settledFingerprint: 0,
    settledBalances: undefined,
    extends: undefined,
    reserveRecord: undefined,
    activeIndex: -1,
    endedAtMs: 0,
    owner: undefined,
  };
}

/** Empties every field of a forgotten row, as {@link blankReservation} builds one. */
export function resetReservation(row: ReservationRow): void {
  row.sequence = -1;
  row.ids = NO_IDS;
  row.tenant = undefined;
  row.status = 'ACTIVE';
  row.subject = NO_SUBJECT;
  row.action = NO_ACTION;
  row.unit = 'USD_MICROCENTS';
  row.estimate = 0;
  row.rows = NO_ROWS;
  row.scopePath = '';
  row.affectedScopes = NO_SCOPES;
  row.createdAtMs = 0;
  row.expiresAtMs = 0;
  row.graceMs = 0;
  row.overagePolicy = 'ALLOW_IF_AVAILABLE';
  row.extensions = 0;
  row.maxExtensions = 0;
  row.idempotencyKey = '';
  row.metadata = undefined;
  row.committed = undefined;
  row.committedMetadata = undefined;
  row.settledKey = undefined;
  row.settledFingerprint = 0;
  row.settledBalances = undefined;
  row.extends = undefined;
  row.reserveRecord = undefined;
  row.activeIndex = -1;
  row.endedAtMs = 0;
  row.owner = undefined;
}

/** The response of the commit that settled a COMMITTED row, rebuilt exactly as the commit built it. */
export function commitResponseOf(row: ReservationRow): CommitResponse {
  const unit = row.unit;
  const charged = row.committed ?? 0;
  const response: CommitResponse = { status: 'COMMITTED', charged: { unit, amount: charged } };
  if (charged < row.estimate) response.released = { unit, amount: row.estimate - charged };
  if (row.settledBalances !== undefined) response.balances = row.settledBalances;
  return response;
}

/** The response of the release that settled a RELEASED row, rebuilt exactly as the release built it. */
export function releaseResponseOf(row: ReservationRow): ReleaseResponse {
  const response: ReleaseResponse = {
    status: 'RELEASED',
    released: { unit: row.unit, amount: row.estimate },
  };
  if (row.settledBalances !== undefined) response.balances = row.settledBalances;
  return response;
}

/**
 * When a commit or release finalized the reservation (undefined while ACTIVE and for an expiry). Derived
 * from `endedAtMs` rather than stored: a stored copy was one more boxed number per reservation.
 */
export function finalizedAt(row: ReservationRow): number | undefined {
  return row.status === 'COMMITTED' || row.status === 'RELEASED' ? row.endedAtMs : undefined;
}

/** The protocol view of a reservation; `include` projects metadata (both by default). */
export function toDetail(row: ReservationRow, include?: readonly string[]): ReservationDetail {
  const detail: ReservationDetail = {
    reservationId: reservationIdOf(row),
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
  const finalizedAtMs = finalizedAt(row);
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

function sortValue(row: ReservationRow, key: string): string | number {
  switch (key) {
    case 'reservation_id':
      return reservationIdOf(row);
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

/**
 * A page cursor: the next offset and a check of it (base 36), so a cursor no ledger issued
 * (`cursor=garbage`) is refused rather than read as some far offset and answered with an empty page.
 */
function cursorOf(offset: number): string {
  return `${offset.toString(36)}-${cursorCheck(offset)}`;
}

function cursorCheck(offset: number): string {
  return ((Math.imul(offset ^ 0x5bd1e995, 2654435761) >>> 0) % 1296).toString(36).padStart(2, '0');
}

/** The offset of a cursor {@link page} issued (0 for none); 400 naming `cursor` for anything else. */
export function decodeCursor(cursor: unknown): number {
  if (cursor === undefined || cursor === '') return 0;
  if (typeof cursor !== 'string') throw invalid('cursor', 'must be a string', 'pass nextCursor as given');
  const dash = cursor.indexOf('-');
  const offset = dash > 0 && dash <= 11 ? Number.parseInt(cursor.slice(0, dash), 36) : Number.NaN;
  if (!Number.isSafeInteger(offset) || offset < 0 || cursorOf(offset) !== cursor) {
    throw invalid('cursor', 'is not a cursor this ledger issued', 'pass nextCursor from the previous page');
  }
  return offset;
}

/** One page of `items` from `offset`, with the cursor of the next page. */
export function page<T>(
  items: T[],
  offset: number,
  limit: number,
): { items: T[]; nextCursor?: string; hasMore: boolean } {
  const slice = items.slice(offset, offset + limit);
  const hasMore = offset + limit < items.length;
  return hasMore
    ? { items: slice, nextCursor: cursorOf(offset + limit), hasMore }
    : { items: slice, hasMore };
}

/** Filters, sorts and pages reservations for listReservations (all filters ANDed; blank = unset). */
export function queryReservations(
  rows: Iterable<ReservationRow>,
  query: ListReservationsQuery,
  tenant: string | undefined,
): ListReservationsResponse {
  const matches: ReservationRow[] = [];
  const key = query.idempotencyKey === '' ? undefined : query.idempotencyKey;
  for (const row of rows) {
    if (tenant !== undefined && row.tenant !== tenant) continue;
    if (key !== undefined && row.idempotencyKey !== key) continue;
    if (query.status !== undefined && row.status !== query.status) continue;
    let ok = true;
    for (const level of LEVELS) {
      const wanted = query[level];
      if (
        wanted !== undefined &&
        wanted !== '' &&
        row.subject[level]?.toLowerCase() !== wanted.toLowerCase()
      ) {
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    if (!within(row.createdAtMs, query.fromMs, query.toMs)) continue;
    if (!within(row.expiresAtMs, query.expiresFromMs, query.expiresToMs)) continue;
    if (!within(finalizedAt(row), query.finalizedFromMs, query.finalizedToMs)) continue;
    matches.push(row);
  }
  const sortBy = query.sortBy ?? 'created_at_ms';
  const direction = query.sortDir === 'asc' ? 1 : -1;
  matches.sort((a, b) => {
    const left = sortValue(a, sortBy);
    const right = sortValue(b, sortBy);
    if (left !== right) return (left < right ? -1 : 1) * direction;
    const leftId = reservationIdOf(a);
    const rightId = reservationIdOf(b);
    return (leftId < rightId ? -1 : leftId > rightId ? 1 : 0) * direction;
  });
  const result = page(matches, decodeCursor(query.cursor), query.limit ?? 50);
  const response: ListReservationsResponse = {
    reservations: result.items.map((row) => toDetail(row, query.include ?? [])),
    hasMore: result.hasMore,
  };
  if (result.nextCursor !== undefined) response.nextCursor = result.nextCursor;
  return response;
}
