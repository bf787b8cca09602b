import { affectedScopes, type StoredReservation } from '@cycles-guard/core/ledger-kit';
import type { Metadata, ReservationDetail, ReservationStatus, Unit } from '@cycles-guard/core/protocol';
import { amount } from './ledger-views.ts';

// A reservation as the read scripts return it, decoded into the ledger kit's fields (the kit shapes
// the detail view and runs list queries, as for the memory ledger).

/** What a reservation's `record` field holds (JSON, opaque to Lua): the request's own facts. */
export interface ReservationRecord {
  subject: ReservationDetail['subject'];
  action: ReservationDetail['action'];
  idempotencyKey: string;
  metadata?: Metadata;
}

/**
 * The record as stored: `[subject, action, idempotencyKey, metadata?]`, the scopes left out (they follow
 * from the subject): every byte is packed and written again by each settle and fed to the AOF.
 */
export function encodeRecord(record: ReservationRecord): string {
  const fields: unknown[] = [record.subject, record.action, record.idempotencyKey];
  if (record.metadata !== undefined) fields.push(record.metadata);
  return JSON.stringify(fields);
}

/** A stored record with its scopes; reads the object form written before 2026-12-07 too. */
export function decodeRecord(
  text: string,
): ReservationRecord & { scopePath: string; affectedScopes: string[] } {
  const parsed = JSON.parse(text) as unknown;
  if (!Array.isArray(parsed))
    return parsed as ReservationRecord & { scopePath: string; affectedScopes: string[] };
  const [subject, action, idempotencyKey, metadata] = parsed as [
    ReservationRecord['subject'],
    ReservationRecord['action'],
    string,
    Metadata | undefined,
  ];
  const scopes = affectedScopes(subject);
  return { subject, action, idempotencyKey, metadata, scopePath: scopes.at(-1)!, affectedScopes: scopes };
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
  const record = decodeRecord(view.record);
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
