import { describe, expect, it } from 'vitest';
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
const CHILD = 'tenant:acme/app:chat';

/** cycles-guard's documented extensions: partial holds, templates, budget windows. */
export function registerExtensionTests(options: ConformanceOptions): void {
  describe('extension: partial holds', () => {
    const harness = harnessFactory(options);

    it('a full fit holds the whole estimate and is not partial', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      const response = await ledger.reserve(reserveRequest(TENANT, 800, { minimum: 300 }));
      expect(response.reserved).toEqual({ unit: UNIT, amount: 800 });
      expect(response.partial ?? false).toBe(false);
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ reserved: 800, remaining: 200 });
    });

    it('when only part fits, holds the smallest remaining over the scopes on every scope', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 500);
      await seedBudget(ledger, CHILD, 300);
      await ledger.reserve(reserveRequest(TENANT, 100));
      const response = await ledger.reserve(reserveRequest(CHILD, 1000, { minimum: 100 }));
      expect(response.reserved).toEqual({ unit: UNIT, amount: 300 });
      expect(response.partial).toBe(true);
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ reserved: 400, remaining: 100 });
      expect(await balanceOf(ledger, CHILD)).toMatchObject({ reserved: 300, remaining: 0 });
      const detail = await ledger.getReservation(response.reservationId!);
      expect(detail.reserved).toEqual({ unit: UNIT, amount: 300 });
      const committed = await ledger.commit(response.reservationId!, {
        idempotencyKey: freshKey('commit'),
        actual: { unit: UNIT, amount: 250 },
      });
      expect(committed).toMatchObject({ charged: { amount: 250 }, released: { amount: 50 } });
      expect(await balanceOf(ledger, CHILD)).toMatchObject({ reserved: 0, spent: 250, remaining: 50 });
      await checkIdentity(ledger);
    });

    it('below the minimum → 409 BUDGET_EXCEEDED with nothing held', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 500);
      await seedBudget(ledger, CHILD, 300);
      await ledger.reserve(reserveRequest(CHILD, 250));
      const before = await snapshotLedgers(ledger);
      await expectCyclesError(
        ledger.reserve(reserveRequest(CHILD, 1000, { minimum: 51 })),
        'BUDGET_EXCEEDED',
      );
      expect(await snapshotLedgers(ledger)).toEqual(before);
      const exact = await ledger.reserve(reserveRequest(CHILD, 1000, { minimum: 50 }));
      expect(exact).toMatchObject({ reserved: { amount: 50 }, partial: true });
    });

    it('with a minimum, the first scope that cannot hold the minimum decides the error', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1);
      await seedBudget(ledger, CHILD, 0, { status: 'FROZEN' });
      // The tenant cannot hold the estimate but can hold the minimum; the frozen child then refuses.
      await expectCyclesError(ledger.reserve(reserveRequest(CHILD, 2, { minimum: 1 })), 'BUDGET_FROZEN');
      await expectCyclesError(ledger.reserve(reserveRequest(CHILD, 2, { minimum: 2 })), 'BUDGET_EXCEEDED');
    });
  });

  describe('extension: templates', () => {
    const harness = harnessFactory(options);

    it('a template creates a ledger per matching scope on first reserve', async () => {
      const { ledger } = await harness();
      await ledger.addTemplate({ pattern: 'tenant:*', unit: UNIT, allocated: 500 });
      expect(await ledger.getLedger('tenant:newco', UNIT)).toBeUndefined();
      const first = await ledger.reserve(reserveRequest('tenant:newco', 100));
      expect(first.reservationId).toBeTruthy();
      expect(await balanceOf(ledger, 'tenant:newco')).toMatchObject({
        allocated: 500,
        reserved: 100,
        remaining: 400,
      });
      await ledger.reserve(reserveRequest('tenant:other', 450));
      expect(await balanceOf(ledger, 'tenant:other')).toMatchObject({ allocated: 500, reserved: 450 });
      await expectCyclesError(ledger.reserve(reserveRequest('tenant:newco', 401)), 'BUDGET_EXCEEDED');
      expect(await balanceOf(ledger, 'tenant:newco')).toMatchObject({ allocated: 500, reserved: 100 });
      await checkIdentity(ledger);
    });

    it('a template only matches its pattern and its unit', async () => {
      const { ledger } = await harness();
      await ledger.addTemplate({ pattern: 'tenant:*/app:chat', unit: UNIT, allocated: 50 });
      await seedBudget(ledger, 'tenant:acme', 1000);
      await ledger.reserve(reserveRequest('tenant:acme/app:chat', 40));
      expect(await balanceOf(ledger, 'tenant:acme/app:chat')).toMatchObject({ allocated: 50, reserved: 40 });
      await ledger.reserve(reserveRequest('tenant:acme/app:search', 40));
      expect(await ledger.getLedger('tenant:acme/app:search', UNIT)).toBeUndefined();
      expect(await ledger.getLedger('tenant:acme/app:chat', 'CREDITS')).toBeUndefined();
      expect(await balanceOf(ledger, 'tenant:acme')).toMatchObject({ reserved: 80 });
    });
  });

  describe('extension: budget windows', () => {
    const harness = harnessFactory(options);

    it('a daily UTC window starts afresh at midnight: spent back to 0, holds carried', async () => {
      const { ledger, clock } = await harness();
      clock.set(Date.UTC(2026, 0, 1, 23, 30));
      await seedBudget(ledger, TENANT, 1000, { window: { period: 'day', timeZone: 'UTC' } });
      await ledger.createEvent({
        idempotencyKey: freshKey('event'),
        subject: subjectOf(TENANT),
        action: ACTION,
        actual: { unit: UNIT, amount: 700 },
      });
      const held = await ledger.reserve(reserveRequest(TENANT, 200, { ttlMs: 3_600_000 }));
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ spent: 700, reserved: 200, remaining: 100 });
      await expectCyclesError(ledger.reserve(reserveRequest(TENANT, 101)), 'BUDGET_EXCEEDED');
      clock.set(Date.UTC(2026, 0, 2, 0, 10));
      const state = await balanceOf(ledger, TENANT);
      expect(state).toMatchObject({ allocated: 1000, spent: 0, reserved: 200, remaining: 800 });
      expect(state.periodStartMs ?? Date.UTC(2026, 0, 2)).toBe(Date.UTC(2026, 0, 2));
      const committed = await ledger.commit(held.reservationId!, {
        idempotencyKey: freshKey('commit'),
        actual: { unit: UNIT, amount: 150 },
      });
      expect(committed.charged.amount).toBe(150);
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ spent: 150, reserved: 0, remaining: 850 });
      expect((await ledger.reserve(reserveRequest(TENANT, 850))).reservationId).toBeTruthy();
      await checkIdentity(ledger);
    });
  });
}
