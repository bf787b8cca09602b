import { describe, expect, it } from 'vitest';
import type { Balance } from '../protocol/types.ts';
import { remainingBudgetHeaders, subjectBalances, tightestBalance } from './remaining-budget.ts';

function balance(scopePath: string, remaining: number): Balance {
  const scope = scopePath.split('/').at(-1) ?? scopePath;
  return { scope, scopePath, remaining: { unit: 'USD_MICROCENTS', amount: remaining } };
}

describe('remaining budget', () => {
  const balances = [
    balance('tenant:acme', 500),
    balance('tenant:acme/app:chat', 40),
    balance('tenant:acme/app:mail', 10),
  ];

  it('picks the scope with the least remaining', () => {
    expect(tightestBalance(balances)?.scopePath).toBe('tenant:acme/app:mail');
    expect(tightestBalance([])).toBeUndefined();
  });

  it('keeps the subject path and its ancestors only', () => {
    const own = subjectBalances(balances, { tenant: 'ACME', app: 'chat' });
    expect(own.map((entry) => entry.scopePath)).toEqual(['tenant:acme', 'tenant:acme/app:chat']);
    expect(subjectBalances(balances, { tenant: 'other' })).toEqual([]);
  });

  it('builds the documented headers, or none without balances', () => {
    expect(remainingBudgetHeaders(subjectBalances(balances, { tenant: 'acme', app: 'chat' }))).toEqual({
      'X-Cycles-Budget-Remaining': '40',
      'X-Cycles-Budget-Scope': 'tenant:acme/app:chat',
      'X-Cycles-Budget-Unit': 'USD_MICROCENTS',
    });
    expect(remainingBudgetHeaders([])).toEqual({});
  });
});
