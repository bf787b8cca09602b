import { denyDetailOf } from '../protocol/deny-detail.ts';
import { LimitExceededError, type NotFoundError, type ReservationExpiredError } from '../protocol/errors.ts';
import type { DecideResponse, ReserveResponse } from '../protocol/types.ts';
import { type Evaluation, exceeded, retryAfter } from './evaluate.ts';
import type { LedgerRow } from './ledger-row.ts';
import {
  budgetClosed,
  budgetFrozen,
  budgetNotFound,
  idempotencyMismatch,
  overdraftLimitExceeded,
  reservationExpired,
} from './refusals.ts';
import { type ReservationRow, reservationIdOf } from './reservations.ts';
import type { SubjectEntry } from './subject-cache.ts';

/** 409 IDEMPOTENCY_MISMATCH unless a same-key retry carries the payload of the first use. */
export function checkReplay(stored: number, print: number): void {
  if (stored !== print) {
    throw idempotencyMismatch();
  }
}

/** The DENY outcome of a failed evaluation (dry_run and decide), with a retry hint when one is known. */
export function denial(
  failure: Extract<Evaluation, { ok: false }>,
  now: number,
): ReserveResponse & DecideResponse {
  const response: ReserveResponse & DecideResponse = {
    decision: 'DENY',
    affectedScopes: [],
    reasonCode: failure.reason,
    denyDetail: denyDetailOf({
      reason: failure.reason,
      scope: failure.row.scope,
      remaining: failure.row.remaining,
      requested: failure.requested,
      unit: failure.row.unit,
    }),
  };
  const retryAfterMs = failure.reason === 'BUDGET_EXCEEDED' ? retryAfter(failure.row, now) : undefined;
  if (retryAfterMs !== undefined) response.retryAfterMs = retryAfterMs;
  return response;
}

/** The error of an overage plan that failed on `row`. */
export function overageError(
  code: 'BUDGET_EXCEEDED' | 'OVERDRAFT_LIMIT_EXCEEDED',
  row: LedgerRow,
  requested: number,
  now: number,
) {
  if (code === 'BUDGET_EXCEEDED') return exceeded(row, requested, now);
  return overdraftLimitExceeded(row.scope, row.debt, row.overdraftLimit, requested);
}

/** 409 BUDGET_FROZEN or BUDGET_CLOSED unless the ledger is ACTIVE. */
export function guardStatus(row: LedgerRow): void {
  if (row.status === 'FROZEN') throw budgetFrozen(row.scope);
  if (row.status === 'CLOSED') throw budgetClosed(row.scope);
}

/** 429 for a tenant at its own reservation bound (see MemoryLedgerOptions.maxReservationsPerTenant). */
export function tooManyReservations(tenant: string | undefined, retryAfterMs: number): LimitExceededError {
  return new LimitExceededError(
    `Tenant ${tenant ?? '(none)'} holds as many reservations as its bound allows: settle live ones, wait ` +
      "for finished ones to pass the replay window, or raise the tenant's maxReservations",
    { details: { tenant, retry_after_ms: retryAfterMs }, retryAfterMs },
  );
}

/** 429 for a tenant whose idempotency records of charges fill its own cap inside the replay window. */
export function tooManyRecords(tenant: string | undefined, retryAfterMs: number): LimitExceededError {
  return new LimitExceededError(
    `Tenant ${tenant ?? '(none)'} posted as many events as its idempotency cap keeps inside the replay ` +
      'window: retry later, or raise maxIdempotencyRecordsPerTenant',
    { details: { tenant, retry_after_ms: retryAfterMs }, retryAfterMs },
  );
}

export function expiredError(reservation: ReservationRow): ReservationExpiredError {
  return reservationExpired(reservationIdOf(reservation), reservation.expiresAtMs);
}

export function notFound(entry: SubjectEntry): NotFoundError {
  return budgetNotFound(entry.path);
}
