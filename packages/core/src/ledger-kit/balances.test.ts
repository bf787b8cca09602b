import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Unit } from '../protocol/enums.ts';
import type { BalancesResponse } from '../protocol/types.ts';
import {
  type BalanceCounters,
  balanceSelected,
  balancesPage,
  toBalance,
  wantedSegments,
} from './balances.ts';

// Balance views are the kit's: both ledgers select, order, page and shape balances with these.

const small = <T>(...values: T[]) => fc.constantFrom(...values);

const countersArb: fc.Arbitrary<BalanceCounters> = fc.record({
  scope: small('tenant:acme', 'tenant:acme/app:chat', 'tenant:globex', 'tenant:globex/app:chat/agent:a'),
  unit: small<Unit>('TOKENS', 'USD_MICROCENTS'),
  allocated: small(0, 100),
  remaining: small(-5, 0, 40),
  reserved: small(0, 10),
  spent: small(0, 50),
  debt: small(0, 5),
  overdraftLimit: small(0, 10),
  isOverLimit: fc.boolean(),
});

describe('ledger kit: balances', () => {
  it('shapes a Balance as Ref does: leaf scope, zero debt and limit and a false flag left out', () => {
    fc.assert(
      fc.property(countersArb, (row) => {
        const balance = toBalance(row);
        const unit = row.unit;
        expect(balance).toEqual({
          scope: row.scope.slice(row.scope.lastIndexOf('/') + 1),
          scopePath: row.scope,
          remaining: { unit, amount: row.remaining },
          reserved: { unit, amount: row.reserved },
          spent: { unit, amount: row.spent },
          allocated: { unit, amount: row.allocated },
          ...(row.debt > 0 ? { debt: { unit, amount: row.debt } } : {}),
          ...(row.overdraftLimit > 0 ? { overdraftLimit: { unit, amount: row.overdraftLimit } } : {}),
          ...(row.isOverLimit ? { isOverLimit: true } : {}),
        });
      }),
    );
  });

  it('selects scopes holding every queried segment, only the bound tenant’s', () => {
    const wanted = wantedSegments({ tenant: 'ACME', app: 'Chat', agent: '', workspace: undefined });
    expect(wanted).toEqual(['tenant:acme', 'app:chat']);
    expect(balanceSelected('tenant:acme/app:chat', wanted, undefined)).toBe(true);
    expect(balanceSelected('tenant:acme/app:chat/agent:a', wanted, 'acme')).toBe(true);
    expect(balanceSelected('tenant:acme', wanted, undefined)).toBe(false);
    expect(balanceSelected('tenant:acme/app:chat', wanted, 'globex')).toBe(false);
    expect(balanceSelected('tenant:globex/app:chat', [], 'acme')).toBe(false);
    expect(balanceSelected('tenant:globex/app:chat', [], undefined)).toBe(true);
  });

  it('pages every budget once, ordered by scope then unit, following the cursors', () => {
    fc.assert(
      fc.property(fc.array(countersArb, { maxLength: 10 }), fc.integer({ min: 1, max: 4 }), (rows, limit) => {
        const listed: BalancesResponse['balances'] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const answer = balancesPage([...rows], { tenant: 'acme', limit, cursor });
          expect(answer.balances.length).toBeLessThanOrEqual(limit);
          expect(answer.hasMore).toBe(answer.nextCursor !== undefined);
          listed.push(...answer.balances);
          cursor = answer.nextCursor;
          pages += 1;
        } while (cursor !== undefined && pages < 20);
        const key = (scope: string, unit: string) => `${scope}\u0000${unit}`;
        const expected = rows.map((row) => key(row.scope, row.unit)).sort();
        expect(listed.map((balance) => key(balance.scopePath, balance.remaining.unit))).toEqual(expected);
      }),
    );
  });
});
