import { ErrorCode } from './enums.ts';
import { API_FIELD } from './wire-names.ts';

const BRAND = Symbol.for('cycles-guard.error');

/** HTTP status the protocol assigns to each error code (our own codes map to their nearest class). */
export const ERROR_STATUS: Record<ErrorCode, number> = {
  INVALID_REQUEST: 400,
  UNIT_MISMATCH: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  BUDGET_EXCEEDED: 409,
  BUDGET_FROZEN: 409,
  BUDGET_CLOSED: 409,
  OVERDRAFT_LIMIT_EXCEEDED: 409,
  DEBT_OUTSTANDING: 409,
  RESERVATION_FINALIZED: 409,
  IDEMPOTENCY_MISMATCH: 409,
  MAX_EXTENSIONS_EXCEEDED: 409,
  TENANT_CLOSED: 409,
  RESERVATION_EXPIRED: 410,
  LIMIT_EXCEEDED: 429,
  INTERNAL_ERROR: 500,
  AUTHORITY_UNAVAILABLE: 503,
  MODEL_NOT_PRICED: 400,
  INVALID_CONFIG: 500,
};

export interface CyclesErrorOptions {
  /** Machine-readable context: scope, field, remaining budget, ... (sent as `details` on the wire). */
  details?: Record<string, unknown>;
  cause?: unknown;
  /** Server-suggested wait before retrying, when known (e.g. when a budget window resets). */
  retryAfterMs?: number;
}

/**
 * Base class of every error cycles-guard throws. Carries a protocol `code` and the matching HTTP
 * `status`. Use `CyclesError.isInstance(error)` (or a subclass's) rather than `instanceof`: it works
 * across duplicate installs of the package.
 */
export class CyclesError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, options: CyclesErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.details = options.details;
    this.retryAfterMs = options.retryAfterMs;
    Object.defineProperty(this, BRAND, { value: true });
  }

  static isInstance(error: unknown): error is CyclesError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[BRAND] === true;
  }

  /** The protocol's `ErrorResponse` body fields (without request/trace ids). */
  toJSON(): { error: ErrorCode; message: string; details?: Record<string, unknown> } {
    return this.details === undefined
      ? { error: this.code, message: this.message }
      : { error: this.code, message: this.message, details: this.details };
  }
}

/** Defines a subclass bound to one code, whose `isInstance` checks that code (duplicate-install safe). */
function codeError<C extends ErrorCode>(code: C) {
  return class extends CyclesError {
    declare readonly code: C;
    constructor(message: string, options?: CyclesErrorOptions) {
      super(code, message, options);
    }
    static override isInstance(error: unknown): error is CyclesError & { code: C } {
      return CyclesError.isInstance(error) && error.code === code;
    }
  };
}

/** 400: the request is malformed; `details.field` names the offending field. */
export class InvalidRequestError extends codeError(ErrorCode.INVALID_REQUEST) {}
/** 400: no ledger in the requested unit, but ledgers in others; or a commit in another unit. */
export class UnitMismatchError extends codeError(ErrorCode.UNIT_MISMATCH) {}
export class UnauthorizedError extends codeError(ErrorCode.UNAUTHORIZED) {}
/** 403: another tenant's subject or reservation. */
export class ForbiddenError extends codeError(ErrorCode.FORBIDDEN) {}
/** 404: unknown reservation, or no budget at any scope of the subject. */
export class NotFoundError extends codeError(ErrorCode.NOT_FOUND) {}
/** 409: the remaining budget of some scope cannot cover the amount. */
export class BudgetExceededError extends codeError(ErrorCode.BUDGET_EXCEEDED) {}
export class BudgetFrozenError extends codeError(ErrorCode.BUDGET_FROZEN) {}
export class BudgetClosedError extends codeError(ErrorCode.BUDGET_CLOSED) {}
/** 409: a scope is over its overdraft limit (or a commit would push it over). */
export class OverdraftLimitExceededError extends codeError(ErrorCode.OVERDRAFT_LIMIT_EXCEEDED) {}
/** 409: a scope carries debt and allows no overdraft. */
export class DebtOutstandingError extends codeError(ErrorCode.DEBT_OUTSTANDING) {}
/** 410: the reservation expired (commit/release past expiry + grace, extend past expiry). */
export class ReservationExpiredError extends codeError(ErrorCode.RESERVATION_EXPIRED) {}
/** 409: the reservation was already committed or released under another idempotency key. */
export class ReservationFinalizedError extends codeError(ErrorCode.RESERVATION_FINALIZED) {}
/** 409: an idempotency key was reused with a different payload. */
export class IdempotencyMismatchError extends codeError(ErrorCode.IDEMPOTENCY_MISMATCH) {}
export class MaxExtensionsExceededError extends codeError(ErrorCode.MAX_EXTENSIONS_EXCEEDED) {}
/** 429: throttled by the authority (never budget exhaustion). */
export class LimitExceededError extends codeError(ErrorCode.LIMIT_EXCEEDED) {}
export class TenantClosedError extends codeError(ErrorCode.TENANT_CLOSED) {}
export class InternalError extends codeError(ErrorCode.INTERNAL_ERROR) {}
/** The budget authority could not be reached in time: calls fail closed unless fail-open is configured. */
export class AuthorityUnavailableError extends codeError(ErrorCode.AUTHORITY_UNAVAILABLE) {}
/** The model has no price in the catalog; pass `prices` to price it. Refused rather than counted as $0. */
export class ModelNotPricedError extends codeError(ErrorCode.MODEL_NOT_PRICED) {}
/** A configuration value (option or `CYCLES_*` variable) is invalid; `details.field` names it. */
export class InvalidConfigError extends codeError(ErrorCode.INVALID_CONFIG) {}

const BY_CODE: Record<ErrorCode, new (message: string, options?: CyclesErrorOptions) => CyclesError> = {
  INVALID_REQUEST: InvalidRequestError,
  UNIT_MISMATCH: UnitMismatchError,
  UNAUTHORIZED: UnauthorizedError,
  FORBIDDEN: ForbiddenError,
  NOT_FOUND: NotFoundError,
  BUDGET_EXCEEDED: BudgetExceededError,
  BUDGET_FROZEN: BudgetFrozenError,
  BUDGET_CLOSED: BudgetClosedError,
  OVERDRAFT_LIMIT_EXCEEDED: OverdraftLimitExceededError,
  DEBT_OUTSTANDING: DebtOutstandingError,
  RESERVATION_EXPIRED: ReservationExpiredError,
  RESERVATION_FINALIZED: ReservationFinalizedError,
  IDEMPOTENCY_MISMATCH: IdempotencyMismatchError,
  MAX_EXTENSIONS_EXCEEDED: MaxExtensionsExceededError,
  LIMIT_EXCEEDED: LimitExceededError,
  TENANT_CLOSED: TenantClosedError,
  INTERNAL_ERROR: InternalError,
  AUTHORITY_UNAVAILABLE: AuthorityUnavailableError,
  MODEL_NOT_PRICED: ModelNotPricedError,
  INVALID_CONFIG: InvalidConfigError,
};

/** Builds the typed error for a code (e.g. from a protocol server's error body). */
export function errorForCode(code: ErrorCode, message: string, options?: CyclesErrorOptions): CyclesError {
  const ErrorClass = BY_CODE[code] ?? InternalError;
  return new ErrorClass(message, options);
}

/** Shorthand for a validation failure naming the field and the fix. */
export function invalid(field: string, problem: string, fix?: string): InvalidRequestError {
  const error = new InvalidRequestError(`${field} ${problem}${fix ? `: ${fix}` : ''}`, {
    details: { field },
  });
  (error as { [API_FIELD]?: boolean })[API_FIELD] = true; // over HTTP: the wire name (wire-names.ts)
  return error;
}
