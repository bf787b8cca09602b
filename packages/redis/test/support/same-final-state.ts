import type { Ledger } from '@cycles-guard/core';
import { expect } from 'vitest';
import { normalize } from './normalize-ids.ts';

/**
 * Asserts that a run left `ledger` as it left the reference: every budget (ledger ids aside) and
 * tenant acme's reservations, ids normalized by the order each run saw them made.
 */
export async function expectSameFinalState(
  ledger: Ledger,
  ledgerIds: string[],
  reference: Ledger,
  referenceIds: string[],
): Promise<void> {
  const strip = (states: Awaited<ReturnType<Ledger['listLedgers']>>) =>
    states.map(({ ledgerId: _id, ...state }) => state).sort((a, b) => a.scope.localeCompare(b.scope));
  expect(strip(await ledger.listLedgers())).toEqual(strip(await reference.listLedgers()));
  const list = { tenant: 'acme', limit: 200, sortDir: 'asc' as const };
  expect(normalize((await ledger.listReservations(list)).reservations, ledgerIds)).toEqual(
    normalize((await reference.listReservations(list)).reservations, referenceIds),
  );
}
