import { describe, expect, it } from 'vitest';
import type { FundingOperation, Ledger } from '../ledger/types.ts';
import {
  ACTION,
  balanceOf,
  type ConformanceOptions,
  checkIdentity,
  expectCyclesError,
  freshKey,
  reserveRequest,
  seedBudget,
  snapshotLedgers,
  subjectOf,
  UNIT,
} from './fixtures.ts';
import { harnessFactory } from './harness.ts';

const TENANT = 'tenant:acme';

function fund(ledger: Ledger, funding: FundingOperation, idempotencyKey?: string) {
  return ledger.fund({ scope: TENANT, unit: UNIT, funding, idempotencyKey });
}

/** §3 funding arithmetic and provisioning. */
export function registerFundingTests(options: ConformanceOptions): void {
  describe('funding and provisioning', () => {
    const harness = harnessFactory(options);

    it('a new ledger starts with remaining = allocated and zero counters; duplicates → 409', async () => {
      const { ledger } = await harness();
      const created = await seedBudget(ledger, TENANT, 1000, { overdraftLimit: 5 });
      expect(created).toMatchObject({
        scope: TENANT,
        unit: UNIT,
        allocated: 1000,
        remaining: 1000,
        reserved: 0,
        spent: 0,
        debt: 0,
        overdraftLimit: 5,
        isOverLimit: false,
        status: 'ACTIVE',
      });
      expect(created.ledgerId).toBeTruthy();
      await expect(seedBudget(ledger, TENANT, 5)).rejects.toMatchObject({ status: 409 });
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ allocated: 1000 });
      const other = await seedBudget(ledger, TENANT, 5, { unit: 'CREDITS' });
      expect(other.unit).toBe('CREDITS');
      expect(await ledger.listLedgers()).toHaveLength(2);
    });

    it('CREDIT, DEBIT, REPAY_DEBT, RESET and RESET_SPENT follow the table and keep the identity', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000, { overdraftLimit: 200 });
      await ledger.createEvent({
        idempotencyKey: freshKey('event'),
        subject: subjectOf(TENANT),
        action: ACTION,
        actual: { unit: UNIT, amount: 300 },
      });
      const held = await ledger.reserve(reserveRequest(TENANT, 100, { ttlMs: 3_600_000 }));
      await ledger.createEvent({
        idempotencyKey: freshKey('event'),
        subject: subjectOf(TENANT),
        action: ACTION,
        actual: { unit: UNIT, amount: 650 },
        overagePolicy: 'ALLOW_WITH_OVERDRAFT',
      });
      expect(await balanceOf(ledger, TENANT)).toMatchObject({
        allocated: 1000,
        spent: 900,
        reserved: 100,
        debt: 50,
        remaining: -50,
      });

      const credited = await fund(ledger, { operation: 'CREDIT', amount: 100 });
      expect(credited.previous).toEqual({ allocated: 1000, remaining: -50, debt: 50, spent: 900 });
      expect(credited.current).toMatchObject({ allocated: 1100, remaining: 50, debt: 50, spent: 900 });
      await checkIdentity(ledger);

      const before = await snapshotLedgers(ledger);
      await expect(fund(ledger, { operation: 'DEBIT', amount: 60 })).rejects.toMatchObject({ status: 409 });
      expect(await snapshotLedgers(ledger)).toEqual(before);
      const debited = await fund(ledger, { operation: 'DEBIT', amount: 20 });
      expect(debited.current).toMatchObject({ allocated: 1080, remaining: 30, debt: 50 });

      const repaid = await fund(ledger, { operation: 'REPAY_DEBT', amount: 30 });
      expect(repaid.current).toMatchObject({ allocated: 1080, remaining: 60, debt: 20 });
      const overpaid = await fund(ledger, { operation: 'REPAY_DEBT', amount: 50 });
      expect(overpaid.current).toMatchObject({ allocated: 1110, remaining: 110, debt: 0 });
      await checkIdentity(ledger);

      const reset = await fund(ledger, { operation: 'RESET', amount: 2000 });
      expect(reset.current).toMatchObject({ allocated: 2000, spent: 900, reserved: 100, remaining: 1000 });

      const period = await fund(ledger, { operation: 'RESET_SPENT', amount: 500 });
      expect(period.previous).toEqual({ allocated: 2000, remaining: 1000, debt: 0, spent: 900 });
      expect(period.current).toMatchObject({ allocated: 500, spent: 0, reserved: 100, remaining: 400 });
      const carried = await fund(ledger, { operation: 'RESET_SPENT', amount: 300, spent: 250 });
      expect(carried.current).toMatchObject({ allocated: 300, spent: 250, reserved: 100, remaining: -50 });
      await checkIdentity(ledger);

      await ledger.commit(held.reservationId!, {
        idempotencyKey: freshKey('commit'),
        actual: { unit: UNIT, amount: 100 },
      });
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ spent: 350, reserved: 0, remaining: -50 });
      await checkIdentity(ledger);
    });

    it('debt carries over RESET_SPENT and the flag is recomputed as debt > limit', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 100, { overdraftLimit: 50 });
      await ledger.createEvent({
        idempotencyKey: freshKey('event'),
        subject: subjectOf(TENANT),
        action: ACTION,
        actual: { unit: UNIT, amount: 140 },
        overagePolicy: 'ALLOW_WITH_OVERDRAFT',
      });
      await ledger.updateLedger(TENANT, UNIT, { overdraftLimit: 10 });
      expect(await balanceOf(ledger, TENANT)).toMatchObject({
        debt: 40,
        overdraftLimit: 10,
        isOverLimit: true,
      });
      const period = await fund(ledger, { operation: 'RESET_SPENT', amount: 100 });
      expect(period.current).toMatchObject({ spent: 0, debt: 40, remaining: 60, isOverLimit: true });
      const repaid = await fund(ledger, { operation: 'REPAY_DEBT', amount: 35 });
      expect(repaid.current).toMatchObject({ debt: 5, remaining: 95, isOverLimit: false });
      await checkIdentity(ledger);
    });

    it('invalid funding amounts → 400 with no change', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 100);
      const before = await snapshotLedgers(ledger);
      await expectCyclesError(fund(ledger, { operation: 'CREDIT', amount: -1 }), 'INVALID_REQUEST');
      await expectCyclesError(fund(ledger, { operation: 'CREDIT', amount: 0.5 }), 'INVALID_REQUEST');
      await expectCyclesError(
        fund(ledger, { operation: 'RESET_SPENT', amount: 10, spent: -1 }),
        'INVALID_REQUEST',
      );
      expect(await snapshotLedgers(ledger)).toEqual(before);
    });

    it('funding with an idempotency key replays and detects mismatches', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 100);
      const key = freshKey('fund');
      const first = await fund(ledger, { operation: 'CREDIT', amount: 10 }, key);
      const replay = await fund(ledger, { operation: 'CREDIT', amount: 10 }, key);
      expect(replay).toEqual(first);
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ allocated: 110, remaining: 110 });
      await expectCyclesError(fund(ledger, { operation: 'CREDIT', amount: 11 }, key), 'IDEMPOTENCY_MISMATCH');
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ allocated: 110 });
    });
  });
}
