import {
  BudgetClosedError,
  BudgetExceededError,
  BudgetFrozenError,
  DebtOutstandingError,
  ForbiddenError,
  IdempotencyMismatchError,
  InvalidRequestError,
  MaxExtensionsExceededError,
  NotFoundError,
  OverdraftLimitExceededError,
  ReservationExpiredError,
  ReservationFinalizedError,
  TenantClosedError,
  UnitMismatchError,
} from '../protocol/errors.ts';

// Every refusal a ledger throws, built from plain values, so the memory ledger and a second ledger (the
// Redis one, through ledger-kit) word and detail each one exactly alike: callers cannot tell them apart.

/** 409: a ledger already exists for this (scope, unit). Carries the INVALID_REQUEST code, as in the admin spec. */
export class DuplicateLedgerError extends InvalidRequestError {
  override readonly status: number = 409;
}

/** 409: the ledger cannot be removed while a reservation holds on it. Carries the INVALID_REQUEST code. */
export class LedgerInUseError extends InvalidRequestError {
  override readonly status: number = 409;
}

/** 409 BUDGET_EXCEEDED for a scope, with `retryAfterMs` when the ledger's window resets at a known time. */
export function budgetExceeded(
  scope: string,
  remaining: number,
  requested: number,
  retryAfterMs: number | undefined,
): BudgetExceededError {
  return new BudgetExceededError(
    `Insufficient budget in ${scope}: remaining ${remaining}, requested ${requested}`,
    {
      details: { scope, remaining, requested },
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    },
  );
}

export function budgetFrozen(scope: string): BudgetFrozenError {
  return new BudgetFrozenError(`Budget is frozen: ${scope}`, { details: { scope } });
}

export function budgetClosed(scope: string): BudgetClosedError {
  return new BudgetClosedError(`Budget is closed: ${scope}`, { details: { scope } });
}

/** 409 for reopening a CLOSED budget: closing is final. */
export function budgetClosedForGood(scope: string): BudgetClosedError {
  return new BudgetClosedError(`Budget is closed (terminal): ${scope}`, { details: { scope } });
}

export function debtOutstanding(scope: string, debt: number): DebtOutstandingError {
  return new DebtOutstandingError(`Budget has outstanding debt: ${scope}`, { details: { scope, debt } });
}

/** 409 OVERDRAFT_LIMIT_EXCEEDED: a reserve's gate (no `requested`) or a commit's overage plan (`requested`). */
export function overdraftLimitExceeded(
  scope: string,
  debt: number,
  overdraftLimit: number,
  requested?: number,
): OverdraftLimitExceededError {
  const details = { scope, debt, overdraft_limit: overdraftLimit };
  if (requested === undefined) {
    return new OverdraftLimitExceededError(`Budget is over its overdraft limit: ${scope}`, { details });
  }
  return new OverdraftLimitExceededError(`Overdraft limit of ${scope} would be exceeded`, {
    details: { ...details, requested },
  });
}

export function tenantClosed(tenant: string | undefined): TenantClosedError {
  return new TenantClosedError(`Tenant ${tenant} is closed`, { details: { tenant } });
}

/** 404: no budget at any scope of the subject. The first refusal a new setup meets, so it says the fix. */
export function budgetNotFound(scope: string): NotFoundError {
  return new NotFoundError(
    `Budget not found for provided scope: ${scope}; create a ledger at one of its scopes or a template matching it`,
    { details: { scope } },
  );
}

/** 400: the subject is budgeted, but only in other units (`expected`, sorted). */
export function unitNotBudgeted(scope: string, unit: string, expected: string[]): UnitMismatchError {
  return new UnitMismatchError(`No ${unit} budget for ${scope}; it is budgeted in ${expected.join(', ')}`, {
    details: { scope, requested_unit: unit, expected_units: expected },
  });
}

/** 400: a commit in another unit than its reservation's. */
export function commitUnitMismatch(unit: string, reservedUnit: string): UnitMismatchError {
  return new UnitMismatchError(`Commit unit ${unit} differs from the reserved unit ${reservedUnit}`, {
    details: { requested_unit: unit, expected_units: [reservedUnit] },
  });
}

export function reservationNotFound(reservationId: string): NotFoundError {
  return new NotFoundError(`Reservation not found: ${reservationId}`, {
    details: { reservation_id: reservationId },
  });
}

export function reservationOfAnotherTenant(reservationId: string): ForbiddenError {
  return new ForbiddenError('Reservation belongs to another tenant', {
    details: { reservation_id: reservationId },
  });
}

export function reservationExpired(reservationId: string, expiresAtMs: number): ReservationExpiredError {
  return new ReservationExpiredError(`Reservation ${reservationId} has expired`, {
    details: { reservation_id: reservationId, expires_at_ms: expiresAtMs },
  });
}

export function reservationFinalized(reservationId: string, status: string): ReservationFinalizedError {
  return new ReservationFinalizedError(`Reservation is already ${status}`, {
    details: { reservation_id: reservationId, status },
  });
}

export function maxExtensionsExceeded(
  reservationId: string,
  extensions: number,
  maxExtensions: number,
): MaxExtensionsExceededError {
  return new MaxExtensionsExceededError(`Reservation was extended ${extensions} times already`, {
    details: { reservation_id: reservationId, max_extensions: maxExtensions },
  });
}

/**
 * 409: an idempotency key reused with another payload. Operations whose key names a stored record
 * (reserve, decide, event, fund) name the key; settlements of a reservation give the reason instead.
 */
export function idempotencyMismatch(idempotencyKey?: string): IdempotencyMismatchError {
  return new IdempotencyMismatchError('Idempotency key was already used with a different payload', {
    details:
      idempotencyKey === undefined
        ? { reason: 'payload differs from the first use of this key' }
        : { idempotency_key: idempotencyKey },
  });
}

/** What is wrong with each admin field a funding or status change refuses. */
const ADMIN_FIELD_PROBLEMS: Readonly<Record<AdminField, string>> = {
  'funding.amount': 'must be a non-negative integer',
  'funding.spent': 'must be a non-negative integer',
  'funding.operation': 'must be CREDIT, DEBIT, RESET, RESET_SPENT or REPAY_DEBT',
  status: 'must be ACTIVE, FROZEN or CLOSED',
};

export type AdminField = 'funding.amount' | 'funding.spent' | 'funding.operation' | 'status';

/** 400 for a bad funding or status field, named in `details.field`. */
export function invalidAdminField(field: AdminField): InvalidRequestError {
  return new InvalidRequestError(`${field} ${ADMIN_FIELD_PROBLEMS[field]}`, { details: { field } });
}

export function duplicateLedger(scope: string, unit: string): DuplicateLedgerError {
  return new DuplicateLedgerError(`A ${unit} budget already exists for ${scope}`, {
    details: { scope, unit },
  });
}

export function ledgerNotFound(scope: string, unit: string): NotFoundError {
  return new NotFoundError(`No ${unit} budget for ${scope}`, { details: { scope, unit } });
}

export function ledgerInUse(scope: string, unit: string, reserved: number): LedgerInUseError {
  return new LedgerInUseError(
    `The ${unit} budget for ${scope} still holds ${reserved}: settle its reservations first`,
    { details: { scope, unit, reserved } },
  );
}
