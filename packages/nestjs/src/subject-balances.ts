import { type Balance, type Cycles, type Subject, subjectBalances } from '@cycles-guard/core';
import { SUBJECT_LEVELS } from '@cycles-guard/core/protocol';

/** Balances of the scopes `subject` spends from (its path and ancestors), read from `cycles`' authority. */
export async function balancesOf(cycles: Cycles, subject: Subject): Promise<Balance[]> {
  // Query by the top level only: the ledger returns scopes containing every queried level, not ancestors.
  const level = SUBJECT_LEVELS.find((name) => subject[name] !== undefined);
  if (level === undefined) return [];
  const { balances } = await cycles.authority.getBalances({ [level]: subject[level], limit: 200 });
  return subjectBalances(balances, subject);
}
