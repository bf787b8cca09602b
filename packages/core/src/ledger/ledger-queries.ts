import { balanceSelected, balancesPage, wantedSegments } from '../ledger-kit/balances.ts';
import type { BalancesQuery, BalancesResponse } from '../protocol/types.ts';
import { type LedgerRow, rollWindow } from './ledger-row.ts';

/**
 * One page of the balances of the memory ledger's rows a query selects (only the caller's tenant's when
 * `tenant` is set), windows rolled to `now`.
 */
export function memoryBalancesPage(
  ledgers: Iterable<LedgerRow>,
  query: BalancesQuery,
  tenant: string | undefined,
  now: number,
): BalancesResponse {
  const wanted = wantedSegments(query);
  const rows: LedgerRow[] = [];
  for (const row of ledgers) {
    if (!balanceSelected(row.scope, wanted, tenant)) continue;
    rollWindow(row, now);
    rows.push(row);
  }
  return balancesPage(rows, query);
}
