import {
  type ReservationFields,
  type ReservationNaming,
  reservationDetail,
} from '../ledger-kit/reservation-query.ts';
import type { OveragePolicy } from '../protocol/enums.ts';
import type {
  Action,
  Balance,
  CommitResponse,
  ExtendResponse,
  ReleaseResponse,
  ReservationDetail,
  Subject,
} from '../protocol/types.ts';
import type { Fifo } from './fifo.ts';
import type { IdempotencyRecord } from './idempotency.ts';
import { IdSource } from './ids.ts';
import type { LedgerRow } from './ledger-row.ts';

// The reservation record of the memory ledger and its detail view (list queries: ledger-kit).

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

/**
 * A reservation as the memory ledger keeps it: the kit's fields (what reads show) plus the accounting.
 * `rows` are exactly the ledgers the hold was placed on.
 */
export interface ReservationRow extends ReservationFields {
  /**
   * The counter its id was made from (the table key). The id string itself is rebuilt when needed
   * ({@link reservationIdOf}): a retained row keeping it would keep a young string alive into the old
   * generation per reservation.
   */
  sequence: number;
  /** The ledger's id source, which made the id. */
  ids: IdSource;
  rows: LedgerRow[];
  graceMs: number;
  overagePolicy: OveragePolicy;
  extensions: number;
  maxExtensions: number;
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

/** How the memory ledger names a row: the id rebuilt from its sequence, finalization from endedAtMs. */
export const rowNaming: ReservationNaming<ReservationRow> = { id: reservationIdOf, finalizedAt };

/** The protocol view of a reservation; `include` projects metadata (both by default). */
export function toDetail(row: ReservationRow, include?: readonly string[]): ReservationDetail {
  return reservationDetail(row, rowNaming, include);
}
