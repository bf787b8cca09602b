import type { StoredReservation } from '@cycles-guard/core/ledger-kit';
import type { Metadata, ReservationDetail, ReservationStatus, Unit } from '@cycles-guard/core/protocol';
import { amount } from './ledger-views.ts';

// A reservation as the read scripts return it, decoded into the ledger kit's fields (the kit shapes
// the detail view and runs list queries, as for the memory ledger).

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

/** The kit's fields of a reservation a script returned. */
export function toStored(view: ReservationView): StoredReservation {
  const record = JSON.parse(view.record) as ReservationRecord;
  return {
    reservationId: view.id,
    tenant: view.tenant === undefined || view.tenant === '' ? undefined : view.tenant,
    status: view.status as ReservationStatus,
    subject: record.subject,
    action: record.action,
    unit: view.unit as Unit,
    estimate: amount(view.estimate),
    scopePath: record.scopePath,
    affectedScopes: record.affectedScopes,
    createdAtMs: amount(view.createdAtMs),
    expiresAtMs: amount(view.expiresAtMs),
    idempotencyKey: record.idempotencyKey,
    metadata: record.metadata,
    committed: view.committed === undefined ? undefined : amount(view.committed),
    committedMetadata: view.cmeta ? (JSON.parse(view.cmeta) as Metadata) : undefined,
    finalizedAtMs: view.finalizedAtMs === undefined ? undefined : amount(view.finalizedAtMs),
  };
}
