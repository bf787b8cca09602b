import type { Metadata } from '@cycles-guard/core';
import { decodeCursor, page } from '@cycles-guard/core/ledger-kit';
import type {
  ListReservationsQuery,
  ListReservationsResponse,
  ReservationDetail,
  ReservationStatus,
  Unit,
} from '@cycles-guard/core/protocol';
import { amount } from './ledger-views.ts';

// Reservation reads: the detail view of a stored reservation, and list filtering, sorting and paging
// (the same rules as the memory ledger's queryReservations, applied to what the list script returns).

/** What the write path stores as the reservation's `record` field (JSON, opaque to Lua). */
export interface ReservationRecord {
  subject: ReservationDetail['subject'];
  action: ReservationDetail['action'];
  idempotencyKey: string;
  metadata?: Metadata;
  scopePath: string;
  affectedScopes: string[];
}

/** A reservation as the read scripts return it (numbers as decimal strings). */
export interface ReservationView {
  id: string;
  tenant?: string;
  status: string;
  unit: string;
  estimate: string;
  createdAtMs: string;
  expiresAtMs: string;
  record: string;
  committed?: string;
  finalizedAtMs?: string;
  cmeta?: string;
}

interface Listed {
  detail: ReservationDetail;
  tenant: string;
}

export function toDetail(view: ReservationView, include?: readonly string[]): ReservationDetail {
  const record = JSON.parse(view.record) as ReservationRecord;
  const unit = view.unit as Unit;
  const detail: ReservationDetail = {
    reservationId: view.id,
    status: view.status as ReservationStatus,
    idempotencyKey: record.idempotencyKey,
    subject: record.subject,
    action: record.action,
    reserved: { unit, amount: amount(view.estimate) },
    createdAtMs: amount(view.createdAtMs),
    expiresAtMs: amount(view.expiresAtMs),
    scopePath: record.scopePath,
    affectedScopes: record.affectedScopes,
  };
  if (view.committed !== undefined) detail.committed = { unit, amount: amount(view.committed) };
  if (view.finalizedAtMs !== undefined) detail.finalizedAtMs = amount(view.finalizedAtMs);
  if (record.metadata !== undefined && (include === undefined || include.includes('metadata'))) {
    detail.metadata = record.metadata;
  }
  if (view.cmeta && (include === undefined || include.includes('committed_metadata'))) {
    detail.committedMetadata = JSON.parse(view.cmeta);
  }
  return detail;
}

const LEVELS = ['tenant', 'workspace', 'app', 'workflow', 'agent', 'toolset'] as const;

function within(value: number | undefined, from: number | undefined, to: number | undefined): boolean {
  if (from === undefined && to === undefined) return true;
  if (value === undefined) return false;
  return (from === undefined || value >= from) && (to === undefined || value <= to);
}

function sortValue(row: Listed, key: string): string | number {
  const detail = row.detail;
  switch (key) {
    case 'reservation_id':
      return detail.reservationId;
    case 'tenant':
      return row.tenant;
    case 'scope_path':
      return detail.scopePath;
    case 'status':
      return detail.status;
    case 'reserved':
      return detail.reserved.amount;
    case 'expires_at_ms':
      return detail.expiresAtMs;
    default:
      return detail.createdAtMs;
  }
}

function matches(row: Listed, query: ListReservationsQuery): boolean {
  const detail = row.detail;
  const key = query.idempotencyKey === '' ? undefined : query.idempotencyKey;
  if (key !== undefined && detail.idempotencyKey !== key) return false;
  if (query.status !== undefined && detail.status !== query.status) return false;
  for (const level of LEVELS) {
    const wanted = query[level];
    if (
      wanted !== undefined &&
      wanted !== '' &&
      detail.subject[level]?.toLowerCase() !== wanted.toLowerCase()
    ) {
      return false;
    }
  }
  return (
    within(detail.createdAtMs, query.fromMs, query.toMs) &&
    within(detail.expiresAtMs, query.expiresFromMs, query.expiresToMs) &&
    within(detail.finalizedAtMs, query.finalizedFromMs, query.finalizedToMs)
  );
}

/** Filters (all ANDed; blank = unset), sorts and pages the reservations a list script returned. */
export function queryReservations(
  views: readonly ReservationView[],
  query: ListReservationsQuery,
): ListReservationsResponse {
  const rows: Listed[] = [];
  for (const view of views) {
    const row = { detail: toDetail(view), tenant: view.tenant ?? '' };
    if (matches(row, query)) rows.push(row);
  }
  const sortBy = query.sortBy ?? 'created_at_ms';
  const direction = query.sortDir === 'asc' ? 1 : -1;
  rows.sort((a, b) => {
    const left = sortValue(a, sortBy);
    const right = sortValue(b, sortBy);
    if (left !== right) return (left < right ? -1 : 1) * direction;
    const idA = a.detail.reservationId;
    const idB = b.detail.reservationId;
    return (idA < idB ? -1 : idA > idB ? 1 : 0) * direction;
  });
  const result = page(rows, decodeCursor(query.cursor), query.limit ?? 50);
  const include = query.include ?? [];
  const response: ListReservationsResponse = {
    reservations: result.items.map((row) => projected(row.detail, include)),
    hasMore: result.hasMore,
  };
  if (result.nextCursor !== undefined) response.nextCursor = result.nextCursor;
  return response;
}

function projected(detail: ReservationDetail, include: readonly string[]): ReservationDetail {
  const copy = { ...detail };
  if (!include.includes('metadata')) delete copy.metadata;
  if (!include.includes('committed_metadata')) delete copy.committedMetadata;
  return copy;
}
