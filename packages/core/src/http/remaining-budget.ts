import { SUBJECT_LEVELS } from '../protocol/enums.ts';
import type { Balance, Subject } from '../protocol/types.ts';

/** Header names reporting the remaining budget of the subject's tightest scope. */
export const BUDGET_HEADERS = {
  remaining: 'X-Cycles-Budget-Remaining',
  scope: 'X-Cycles-Budget-Scope',
  unit: 'X-Cycles-Budget-Unit',
} as const;

/** The balance with the least remaining (the scope that will refuse first), or undefined when none. */
export function tightestBalance(balances: readonly Balance[]): Balance | undefined {
  let tightest: Balance | undefined;
  for (const balance of balances) {
    if (tightest === undefined || balance.remaining.amount < tightest.remaining.amount) tightest = balance;
  }
  return tightest;
}

/**
 * Balances of the scopes a subject spends from: the subject's own path and its ancestors
 * (a balance whose path is a prefix of the subject's path).
 */
export function subjectBalances(balances: readonly Balance[], subject: Subject): Balance[] {
  const segments: string[] = [];
  for (const level of SUBJECT_LEVELS) {
    const value = subject[level];
    if (value !== undefined && value !== '') segments.push(`${level}:${value.toLowerCase()}`);
  }
  const path = segments.join('/');
  return balances.filter((balance) => path === balance.scopePath || path.startsWith(`${balance.scopePath}/`));
}

/**
 * Headers for the tightest of `balances` (`X-Cycles-Budget-Remaining`, `-Scope`, `-Unit`); empty when
 * there is no balance (e.g. a templated budget not created yet).
 */
export function remainingBudgetHeaders(balances: readonly Balance[]): Record<string, string> {
  const tightest = tightestBalance(balances);
  if (tightest === undefined) return {};
  return {
    [BUDGET_HEADERS.remaining]: String(tightest.remaining.amount),
    [BUDGET_HEADERS.scope]: tightest.scopePath,
    [BUDGET_HEADERS.unit]: tightest.remaining.unit,
  };
}
