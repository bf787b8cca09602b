import { SUBJECT_LEVELS as LEVELS } from '../protocol/enums.ts';
import { ForbiddenError } from '../protocol/errors.ts';
import { scopeTenant } from '../protocol/scopes.ts';
import type { BalancesQuery, BalancesResponse } from '../protocol/types.ts';
import { type LedgerRow, rollWindow, toBalance } from './ledger-row.ts';
import { decodeCursor, page } from './reservations.ts';

/** 403 when a tenant-bound caller asks about another tenant (`what` names the resource in the message). */
export function guardQueriedTenant(
  tenant: string | undefined,
  queried: string | undefined,
  what: 'Balances' | 'Reservations',
): void {
  if (tenant !== undefined && queried !== undefined && queried !== '' && queried.toLowerCase() !== tenant) {
    throw new ForbiddenError(`${what} of another tenant`, { details: { tenant: queried } });
  }
}

/**
 * One page of the balances of the ledgers whose scope holds every queried segment (only the caller's
 * tenant's when `tenant` is set), ordered by scope then unit, windows rolled to `now`.
 */
export function balancesPage(
  ledgers: Iterable<LedgerRow>,
  query: BalancesQuery,
  tenant: string | undefined,
  now: number,
): BalancesResponse {
  const wanted: string[] = [];
  for (const level of LEVELS) {
    const value = query[level];
    if (value !== undefined && value !== '') wanted.push(`${level}:${value.toLowerCase()}`);
  }
  const rows: LedgerRow[] = [];
  for (const row of ledgers) {
    if (tenant !== undefined && scopeTenant(row.scope) !== tenant) continue;
    const segments = row.scope.split('/');
    if (!wanted.every((segment) => segments.includes(segment))) continue;
    rollWindow(row, now);
    rows.push(row);
  }
  rows.sort((a, b) => (a.scope === b.scope ? cmp(a.unit, b.unit) : cmp(a.scope, b.scope)));
  const result = page(rows, decodeCursor(query.cursor), query.limit ?? 50);
  const response: BalancesResponse = { balances: result.items.map(toBalance), hasMore: result.hasMore };
  if (result.nextCursor !== undefined) response.nextCursor = result.nextCursor;
  return response;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
