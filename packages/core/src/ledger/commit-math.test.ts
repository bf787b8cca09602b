import { describe, expect, it } from 'vitest';
import { planOverage, underspend } from './commit-math.ts';

describe('planOverage (PROTOCOL.md §2.4 / §2.10)', () => {
  it('ALLOW_IF_AVAILABLE caps at the remaining and flags the scope (1000/950 example)', () => {
    // reserve 50 leaves remaining 0; commit 80 → Δ 30
    const plan = planOverage([{ remaining: 0, debt: 0, overdraftLimit: 0 }], 30, 'ALLOW_IF_AVAILABLE');
    expect(plan).toEqual({ ok: true, extra: 0, scopes: [{ spent: 0, debt: 0, flag: true }] });
  });

  it('ALLOW_WITH_OVERDRAFT books the shortfall as debt within the limit (charged 80, debt 30)', () => {
    const plan = planOverage([{ remaining: 0, debt: 0, overdraftLimit: 100 }], 30, 'ALLOW_WITH_OVERDRAFT');
    expect(plan).toEqual({ ok: true, extra: 30, scopes: [{ spent: 0, debt: 30, flag: false }] });
  });

  it('ALLOW_WITH_OVERDRAFT refuses when debt + shortfall exceeds the limit', () => {
    const plan = planOverage([{ remaining: 10, debt: 90, overdraftLimit: 100 }], 30, 'ALLOW_WITH_OVERDRAFT');
    expect(plan).toEqual({ ok: false, code: 'OVERDRAFT_LIMIT_EXCEEDED', index: 0 });
  });

  it('two levels: parent 150 / child 1000, reserve 100, commit 200 → charged 150, only the parent flagged', () => {
    const scopes = [
      { remaining: 50, debt: 0, overdraftLimit: 0 },
      { remaining: 900, debt: 0, overdraftLimit: 0 },
    ];
    for (const policy of ['ALLOW_IF_AVAILABLE', 'ALLOW_WITH_OVERDRAFT'] as const) {
      const plan = planOverage(scopes, 100, policy);
      expect(plan.ok && plan.extra).toBe(50);
      expect(plan.ok && plan.scopes.map((scope) => scope.flag)).toEqual([true, false]);
      expect(plan.ok && plan.scopes.every((scope) => scope.debt === 0)).toBe(true);
    }
  });

  it('event variant: parent 50, child 950, event 100 → charged 50, parent flagged', () => {
    const scopes = [
      { remaining: 50, debt: 0, overdraftLimit: 0 },
      { remaining: 950, debt: 0, overdraftLimit: 0 },
    ];
    const plan = planOverage(scopes, 100, 'ALLOW_IF_AVAILABLE');
    expect(plan).toEqual({
      ok: true,
      extra: 50,
      scopes: [
        { spent: 50, debt: 0, flag: true },
        { spent: 50, debt: 0, flag: false },
      ],
    });
  });

  it('REJECT fails on the first short scope and passes when every scope covers it', () => {
    expect(
      planOverage(
        [
          { remaining: 100, debt: 0, overdraftLimit: 0 },
          { remaining: 5, debt: 0, overdraftLimit: 0 },
        ],
        10,
        'REJECT',
      ),
    ).toEqual({
      ok: false,
      code: 'BUDGET_EXCEEDED',
      index: 1,
    });
    expect(planOverage([{ remaining: 10, debt: 0, overdraftLimit: 0 }], 10, 'REJECT')).toMatchObject({
      ok: true,
      extra: 10,
    });
  });

  it('a negative remaining counts as zero coverage', () => {
    const plan = planOverage([{ remaining: -20, debt: 20, overdraftLimit: 100 }], 30, 'ALLOW_WITH_OVERDRAFT');
    expect(plan).toEqual({ ok: true, extra: 30, scopes: [{ spent: 0, debt: 30, flag: false }] });
  });

  it('underspend returns charged = A and released = E − A', () => {
    expect(underspend(5000, 3000)).toEqual({ charged: 3000, released: 2000 });
    expect(underspend(5000, 5000)).toEqual({ charged: 5000 });
  });
});
