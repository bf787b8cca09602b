import { SUBJECT_LEVELS } from '../protocol/enums.ts';
import { leafSegment, scopeTenant } from '../protocol/scopes.ts';
import type { Balance, BalancesQuery, BalancesResponse, LedgerState } from '../protocol/types.ts';
import { compareText, decodeCursor, page } from './paging.ts';

// Balance views: which ledgers a balances query selects, their order and paging, and the protocol
// Balance of one ledger. Every ledger reads its own storage, then shapes the answer here.

/** The counters of one budget a Balance shows (a memory row and a `LedgerState` both have them). */
export type BalanceCounters = Pick<
  LedgerState,
  | 'scope'
  | 'unit'
  | 'allocated'
  | 'remaining'
  | 'reserved'
  | 'spent'
  | 'debt'
  | 'overdraftLimit'
  | 'isOverLimit'
>;

/** The protocol Balance of a budget, as Ref shapes it (leaf `scope`; zero debt/limit and false flag omitted). */
export function toBalance(row: BalanceCounters): Balance {
  const unit = row.unit;
  const balance: Balance = {
    scope: leafSegment(row.scope),
    scopePath: row.scope,
    remaining: { unit, amount: row.remaining },
    reserved: { unit, amount: row.reserved },
    spent: { unit, amount: row.spent },
    allocated: { unit, amount: row.allocated },
  };
  if (row.debt > 0) balance.debt = { unit, amount: row.debt };
  if (row.overdraftLimit > 0) balance.overdraftLimit = { unit, amount: row.overdraftLimit };
  if (row.isOverLimit) balance.isOverLimit = true;
  return balance;
}

/** The `level:value` segments (lower-cased) a balances query asks for; blank levels are unset. */
export function wantedSegments(query: BalancesQuery): string[] {
  const wanted: string[] = [];
  for (const level of SUBJECT_LEVELS) {
    const value = query[level];
    if (value !== undefined && value !== '') wanted.push(`${level}:${value.toLowerCase()}`);
  }
  return wanted;
}

/**
 * Whether a ledger's scope is in a balances answer: it holds every wanted segment, and it is the
 * caller's tenant's when the caller is bound to one (`tenant`, lower-cased).
 */
export function balanceSelected(
  scope: string,
  wanted: readonly string[],
  tenant: string | undefined,
): boolean {
  if (tenant !== undefined && scopeTenant(scope) !== tenant) return false;
  const segments = scope.split('/');
  return wanted.every((segment) => segments.includes(segment));
}

/** One page of the selected budgets' balances, ordered by scope then unit. Sorts `rows` in place. */
export function balancesPage(rows: BalanceCounters[], query: BalancesQuery): BalancesResponse {
  rows.sort((a, b) => (a.scope === b.scope ? compareText(a.unit, b.unit) : compareText(a.scope, b.scope)));
  const result = page(rows, decodeCursor(query.cursor), query.limit ?? 50);
  const response: BalancesResponse = { balances: result.items.map(toBalance), hasMore: result.hasMore };
  if (result.nextCursor !== undefined) response.nextCursor = result.nextCursor;
  return response;
}
