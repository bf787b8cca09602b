import {
  AuthorityUnavailableError,
  BudgetClosedError,
  BudgetExceededError,
  BudgetFrozenError,
  type CyclesError,
  DebtOutstandingError,
  ForbiddenError,
  IdempotencyMismatchError,
  InternalError,
  InvalidRequestError,
  MaxExtensionsExceededError,
  NotFoundError,
  OverdraftLimitExceededError,
  ReservationExpiredError,
  ReservationFinalizedError,
  TenantClosedError,
  UnitMismatchError,
} from '@cycles-guard/core';
import {
  DuplicateLedgerError,
  LedgerInUseError,
  type TemplateLimit,
  templateLimitError,
  tooManyReservations,
} from '@cycles-guard/core/ledger-kit';
import { amount, asList, type RowReply, retryAfter } from './ledger-views.ts';

// Turns a script's error record ({ e: CODE, ... }) into the typed error the memory ledger throws for the
// same case, with the same message and details, so callers cannot tell the ledgers apart.

/** An error record as the Lua scripts return it. */
export interface ErrorRecord {
  e: string;
  [field: string]: unknown;
}

/** Where the error came from: gates of reserve/decide, or the overage plan of a commit/event. */
export interface ErrorContext {
  nowMs: number;
  /** OVERDRAFT_LIMIT_EXCEEDED reads differently for a gate and for an overage plan. */
  overage?: boolean;
  /** Set for operations whose key names a stored record (reserve, decide, event, fund). */
  idempotencyKey?: string;
}

const FUNDING_MESSAGES: Record<string, string> = {
  'funding.amount': 'funding.amount must be a non-negative integer',
  'funding.spent': 'funding.spent must be a non-negative integer',
  status: 'status must be ACTIVE, FROZEN or CLOSED',
  'funding.operation': 'funding.operation must be CREDIT, DEBIT, RESET, RESET_SPENT or REPAY_DEBT',
};

export function budgetExceeded(row: RowReply, requested: number, nowMs: number): BudgetExceededError {
  const scope = row[1]!;
  const remaining = amount(row[4]!);
  const retryAfterMs = retryAfter(row, nowMs);
  return new BudgetExceededError(
    `Insufficient budget in ${scope}: remaining ${remaining}, requested ${requested}`,
    { details: { scope, remaining, requested }, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) },
  );
}

function rowError(record: ErrorRecord, context: ErrorContext): CyclesError {
  const row = record.row as RowReply;
  const scope = row[1]!;
  const requested = amount(record.requested as string);
  switch (record.e) {
    case 'BUDGET_FROZEN':
      return new BudgetFrozenError(`Budget is frozen: ${scope}`, { details: { scope } });
    case 'BUDGET_CLOSED':
      return new BudgetClosedError(`Budget is closed: ${scope}`, { details: { scope } });
    case 'DEBT_OUTSTANDING':
      return new DebtOutstandingError(`Budget has outstanding debt: ${scope}`, {
        details: { scope, debt: amount(row[7]!) },
      });
    case 'OVERDRAFT_LIMIT_EXCEEDED': {
      const details = { scope, debt: amount(row[7]!), overdraft_limit: amount(row[8]!) };
      if (context.overage) {
        return new OverdraftLimitExceededError(`Overdraft limit of ${scope} would be exceeded`, {
          details: { ...details, requested },
        });
      }
      return new OverdraftLimitExceededError(`Budget is over its overdraft limit: ${scope}`, { details });
    }
    default:
      return budgetExceeded(row, requested, context.nowMs);
  }
}

/** The typed error for a script's error record. */
export function toCyclesError(record: ErrorRecord, context: ErrorContext): CyclesError {
  const text = (field: string) => String(record[field] ?? '');
  if (record.row !== undefined) return rowError(record, context);
  switch (record.e) {
    case 'TENANT_CLOSED':
      return new TenantClosedError(`Tenant ${text('tenant')} is closed`, {
        details: { tenant: text('tenant') },
      });
    case 'NOT_FOUND_BUDGET':
      return new NotFoundError(`Budget not found for provided scope: ${text('scope')}`, {
        details: { scope: text('scope') },
      });
    case 'UNIT_MISMATCH': {
      const expected = asList<string>(record.expected);
      return new UnitMismatchError(
        `No ${text('unit')} budget for ${text('scope')}; it is budgeted in ${expected.join(', ')}`,
        { details: { scope: text('scope'), requested_unit: text('unit'), expected_units: expected } },
      );
    }
    case 'UNIT_MISMATCH_COMMIT': {
      const expected = asList<string>(record.expected);
      return new UnitMismatchError(
        `Commit unit ${text('unit')} differs from the reserved unit ${expected[0]}`,
        {
          details: { requested_unit: text('unit'), expected_units: expected },
        },
      );
    }
    case 'NOT_FOUND_RESERVATION':
      return new NotFoundError(`Reservation not found: ${text('id')}`, {
        details: { reservation_id: text('id') },
      });
    case 'LIMIT_RESERVATIONS':
      return tooManyReservations(text('tenant') || undefined, amount(text('retry')));
    case 'FORBIDDEN_RESERVATION':
      return new ForbiddenError('Reservation belongs to another tenant', {
        details: { reservation_id: text('id') },
      });
    case 'IDEMPOTENCY_MISMATCH':
      return new IdempotencyMismatchError('Idempotency key was already used with a different payload', {
        details:
          context.idempotencyKey === undefined
            ? { reason: 'payload differs from the first use of this key' }
            : { idempotency_key: context.idempotencyKey },
      });
    case 'RESERVATION_EXPIRED':
      return new ReservationExpiredError(`Reservation ${text('id')} has expired`, {
        details: { reservation_id: text('id'), expires_at_ms: amount(text('exp')) },
      });
    case 'RESERVATION_FINALIZED':
      return new ReservationFinalizedError(`Reservation is already ${text('status')}`, {
        details: { reservation_id: text('id'), status: text('status') },
      });
    case 'MAX_EXTENSIONS_EXCEEDED':
      return new MaxExtensionsExceededError(`Reservation was extended ${text('extensions')} times already`, {
        details: { reservation_id: text('id'), max_extensions: amount(text('max')) },
      });
    case 'DUPLICATE_LEDGER':
      return new DuplicateLedgerError(`A ${text('unit')} budget already exists for ${text('scope')}`, {
        details: { scope: text('scope'), unit: text('unit') },
      });
    case 'NOT_FOUND_LEDGER': {
      const id = text('id');
      const bar = id.lastIndexOf('|');
      const scope = id.slice(0, bar);
      const unit = id.slice(bar + 1);
      return new NotFoundError(`No ${unit} budget for ${scope}`, { details: { scope, unit } });
    }
    case 'LEDGER_IN_USE':
      return new LedgerInUseError(
        `The ${text('unit')} budget for ${text('scope')} still holds ${text('reserved')}: settle its reservations first`,
        { details: { scope: text('scope'), unit: text('unit'), reserved: amount(text('reserved')) } },
      );
    case 'CLOSED_TERMINAL':
      return new BudgetClosedError(`Budget is closed (terminal): ${text('scope')}`, {
        details: { scope: text('scope') },
      });
    case 'INVALID_FIELD':
      return new InvalidRequestError(FUNDING_MESSAGES[text('field')] ?? `${text('field')} is invalid`, {
        details: { field: text('field') },
      });
    case 'TEMPLATE_LIMIT':
      return templateLimitError({
        bound: text('bound') as TemplateLimit['bound'],
        limit: amount(text('limit')),
        count: amount(text('count')),
        scope: text('scope'),
        tenant: text('tenant'),
        template: text('template'),
        unit: text('unit'),
      });
    case 'OVERFLOW':
      return new InvalidRequestError(
        'amount would take a ledger counter beyond ±(2^53 − 1), the exact-integer range of the Redis ledger: use a coarser unit or smaller amounts',
        { details: { field: 'amount' } },
      );
    default:
      return new InternalError(`Redis ledger script returned an unknown error ${record.e}`);
  }
}

/** The fail-closed error for a Redis that does not answer in time or refuses connections. */
export function unavailable(cause: unknown, target: string, timeoutMs: number): AuthorityUnavailableError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new AuthorityUnavailableError(
    `Redis ledger at ${target} is unavailable (${reason}); the operation failed closed. Check that Redis is reachable, or raise operationTimeoutMs (now ${timeoutMs} ms).`,
    { details: { field: 'operationTimeoutMs' }, cause },
  );
}
