import type { BudgetAuthority } from '../authority.ts';
import { SUBJECT_LEVELS } from '../protocol/enums.ts';
import type { Balance, Subject } from '../protocol/types.ts';
import { subjectBalances } from './remaining-budget.ts';

/**
 * Balances of the scopes `subject` spends from (its path and its ancestors), read from `authority`.
 * Pass the subject a call is charged to: merged over the instance's (`cycles.config.subject`).
 */
export async function readSubjectBalances(
  authority: Pick<BudgetAuthority, 'getBalances'>,
  subject: Subject,
): Promise<Balance[]> {
  // Query by the top level only: the ledger returns scopes containing every queried level, not ancestors.
  const level = SUBJECT_LEVELS.find((name) => subject[name] !== undefined);
  if (level === undefined) return [];
  const { balances } = await authority.getBalances({ [level]: subject[level], limit: 200 });
  return subjectBalances(balances, subject);
}
