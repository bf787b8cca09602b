import {
  AuthorityUnavailableError,
  type CyclesError,
  InternalError,
  InvalidRequestError,
} from '@cycles-guard/core';
import {
  refusals,
  type TemplateLimit,
  templateLimitError,
  tooManyReservations,
} from '@cycles-guard/core/ledger-kit';
import { amount, asList, type RowReply, retryAfter } from './ledger-views.ts';

// Turns a script's error record ({ e: CODE, ... }) into the typed error the memory ledger throws for the
// same case: both build it with core's refusals (ledger-kit), so callers cannot tell the ledgers apart.

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

function rowError(record: ErrorRecord, context: ErrorContext): CyclesError {
  const row = record.row as RowReply;
  const scope = row[1]!;
  const requested = amount(record.requested as string);
  switch (record.e) {
    case 'BUDGET_FROZEN':
      return refusals.budgetFrozen(scope);
    case 'BUDGET_CLOSED':
      return refusals.budgetClosed(scope);
    case 'DEBT_OUTSTANDING':
      return refusals.debtOutstanding(scope, amount(row[7]!));
    case 'OVERDRAFT_LIMIT_EXCEEDED':
      return refusals.overdraftLimitExceeded(
        scope,
        amount(row[7]!),
        amount(row[8]!),
        context.overage ? requested : undefined,
      );
    default:
      return refusals.budgetExceeded(scope, amount(row[4]!), requested, retryAfter(row, context.nowMs));
  }
}

/** The typed error for a script's error record. */
export function toCyclesError(record: ErrorRecord, context: ErrorContext): CyclesError {
  const text = (field: string) => String(record[field] ?? '');
  if (record.row !== undefined) return rowError(record, context);
  switch (record.e) {
    case 'TENANT_CLOSED':
      return refusals.tenantClosed(text('tenant'));
    case 'NOT_FOUND_BUDGET':
      return refusals.budgetNotFound(text('scope'));
    case 'UNIT_MISMATCH':
      return refusals.unitNotBudgeted(text('scope'), text('unit'), asList<string>(record.expected));
    case 'UNIT_MISMATCH_COMMIT':
      return refusals.commitUnitMismatch(text('unit'), asList<string>(record.expected)[0]!);
    case 'NOT_FOUND_RESERVATION':
      return refusals.reservationNotFound(text('id'));
    case 'LIMIT_RESERVATIONS':
      return tooManyReservations(text('tenant') || undefined, amount(text('retry')));
    case 'FORBIDDEN_RESERVATION':
      return refusals.reservationOfAnotherTenant(text('id'));
    case 'IDEMPOTENCY_MISMATCH':
      return refusals.idempotencyMismatch(context.idempotencyKey);
    case 'RESERVATION_EXPIRED':
      return refusals.reservationExpired(text('id'), amount(text('exp')));
    case 'RESERVATION_FINALIZED':
      return refusals.reservationFinalized(text('id'), text('status'));
    case 'MAX_EXTENSIONS_EXCEEDED':
      return refusals.maxExtensionsExceeded(text('id'), amount(text('extensions')), amount(text('max')));
    case 'DUPLICATE_LEDGER':
      return refusals.duplicateLedger(text('scope'), text('unit'));
    case 'NOT_FOUND_LEDGER': {
      const id = text('id');
      const bar = id.lastIndexOf('|');
      return refusals.ledgerNotFound(id.slice(0, bar), id.slice(bar + 1));
    }
    case 'LEDGER_IN_USE':
      return refusals.ledgerInUse(text('scope'), text('unit'), amount(text('reserved')));
    case 'CLOSED_TERMINAL':
      return refusals.budgetClosedForGood(text('scope'));
    case 'INVALID_FIELD':
      return refusals.invalidAdminField(text('field') as refusals.AdminField);
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
