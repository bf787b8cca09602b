import type { CallContext } from '../authority.ts';
import { ForbiddenError } from '../protocol/errors.ts';
import type { Subject } from '../protocol/types.ts';

// Tenant isolation at the door of every ledger: a caller bound to a tenant (the server's API key) acts
// only on that tenant's subjects and reads only that tenant's balances and reservations.

/**
 * 403 when the caller's tenant differs from the subject's (case-insensitive); returns the tenant the
 * operation acts for, lower-cased: the subject's, else the caller's.
 */
export function guardSubject(subject: Subject, context: CallContext | undefined): string | undefined {
  const tenant = subject.tenant?.toLowerCase();
  const caller = context?.tenant?.toLowerCase();
  if (caller !== undefined && tenant !== undefined && tenant !== caller) {
    throw new ForbiddenError(`Subject tenant ${subject.tenant} is not the caller's tenant`, {
      details: { tenant: subject.tenant },
    });
  }
  return tenant ?? caller;
}

/**
 * 403 when a tenant-bound caller (`tenant`, lower-cased) asks about another tenant; `what` names the
 * resource in the message.
 */
export function guardQueriedTenant(
  tenant: string | undefined,
  queried: string | undefined,
  what: 'Balances' | 'Reservations',
): void {
  if (tenant !== undefined && queried !== undefined && queried !== '' && queried.toLowerCase() !== tenant) {
    throw new ForbiddenError(`${what} of another tenant`, { details: { tenant: shown(queried) } });
  }
}

/** A queried name as echoed in a refusal: a query parameter has no length bound, a refusal body has. */
function shown(value: string): string {
  return value.length <= 128 ? value : `${value.slice(0, 128)}…`;
}
