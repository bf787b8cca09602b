import { describe, expect, it } from 'vitest';
import type { Ledger, TenantClosing } from '../ledger/types.ts';
import {
  balanceOf,
  type ConformanceOptions,
  expectCyclesError,
  freshKey,
  reserveRequest,
  seedBudget,
  UNIT,
} from './fixtures.ts';
import { harnessFactory } from './harness.ts';

const TENANT = 'tenant:acme';
const APP = 'tenant:acme/app:chat';
const OTHER = 'tenant:other';

/**
 * Closes acme: with the ledger's own `closeTenant` (its answer returned), or, for a ledger served by a
 * Cycles server that has none, with the server's close (`setTenant`, which cascades).
 */
async function closeAcme(ledger: Ledger, options: ConformanceOptions): Promise<TenantClosing | undefined> {
  if (ledger.closeTenant !== undefined) return ledger.closeTenant('acme', { status: 'CLOSED' });
  expect(
    options.cascadesTenantClose,
    'a ledger without closeTenant must be closed by a cascading server',
  ).toBe(true);
  await ledger.setTenant('acme', { status: 'CLOSED' });
  return undefined;
}

/** GOV Rule 1 on the ledger: the close flips the tenant and releases its live holds in one step; Rule 2 after. */
export function registerTenantCloseTests(options: ConformanceOptions): void {
  describe('tenant close', () => {
    const harness = harnessFactory(options);

    it('releases every live hold of the tenant with the flip, and only its own', async () => {
      const { ledger, clock } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      await seedBudget(ledger, APP, 400);
      await seedBudget(ledger, OTHER, 100);
      const spent = (await ledger.reserve(reserveRequest(APP, 50))).reservationId!;
      await ledger.commit(spent, { idempotencyKey: freshKey('commit'), actual: { unit: UNIT, amount: 30 } });
      const onApp = (await ledger.reserve(reserveRequest(APP, 70))).reservationId!;
      const onTenant = (await ledger.reserve(reserveRequest(TENANT, 20, { gracePeriodMs: 0 })))
        .reservationId!;
      const late = (await ledger.reserve(reserveRequest(TENANT, 5, { ttlMs: 1000, gracePeriodMs: 0 })))
        .reservationId!;
      const others = (await ledger.reserve(reserveRequest(OTHER, 10))).reservationId!;
      // Past its expiry + grace, unswept: the close expires it rather than releasing it.
      clock.advance(1001);

      const closing = await closeAcme(ledger, options);
      if (closing !== undefined) {
        const released = [...closing.released].sort((a, b) => a.amount - b.amount);
        expect(released).toEqual([
          { reservationId: onTenant, unit: UNIT, amount: 20, scopes: [TENANT] },
          { reservationId: onApp, unit: UNIT, amount: 70, scopes: [TENANT, APP] },
        ]);
        // Through a server the tenant's own reads answer 401 (its keys are revoked); its budgets tell.
        expect((await ledger.getReservation(onApp)).status).toBe('RELEASED');
        expect((await ledger.getReservation(onTenant)).status).toBe('RELEASED');
        await expectCyclesError(ledger.getReservation(late), 'RESERVATION_EXPIRED');
      }
      expect((await ledger.getReservation(others)).status).toBe('ACTIVE');
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ reserved: 0, spent: 30, remaining: 970 });
      expect(await balanceOf(ledger, APP)).toMatchObject({ reserved: 0, spent: 30, remaining: 370 });
      expect(await balanceOf(ledger, OTHER)).toMatchObject({ reserved: 10, remaining: 90 });
      expect((await ledger.getTenant?.('acme'))?.status ?? 'CLOSED').toBe('CLOSED');
      // A server's close also revoked the tenant's keys (401); a bare ledger refuses the write itself.
      const closed = closing === undefined ? 'UNAUTHORIZED' : 'TENANT_CLOSED';
      await expectCyclesError(ledger.reserve(reserveRequest(APP, 1)), closed);
      // A settlement that lost the race with the close is refused, never applied to a released hold.
      await expectCyclesError(
        ledger.commit(onApp, { idempotencyKey: freshKey('commit'), actual: { unit: UNIT, amount: 1 } }),
        closed,
      );

      // Again on the CLOSED tenant: nothing is live any more.
      const again = await closeAcme(ledger, options);
      if (again !== undefined) expect(again.released).toEqual([]);
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ reserved: 0, spent: 30, remaining: 970 });
    });

    it("refuses every write to a CLOSED tenant's budgets but their close (409 TENANT_CLOSED)", async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      await seedBudget(ledger, APP, 400);
      await seedBudget(ledger, OTHER, 100);
      await closeAcme(ledger, options);
      const before = await balanceOf(ledger, APP);
      await expectCyclesError(
        ledger.createLedger({ scope: 'tenant:acme/app:new', unit: UNIT, allocated: 5 }),
        'TENANT_CLOSED',
      );
      await expectCyclesError(
        ledger.fund({ scope: APP, unit: UNIT, funding: { operation: 'CREDIT', amount: 5 } }),
        'TENANT_CLOSED',
      );
      await expectCyclesError(ledger.setLedgerStatus(APP, UNIT, 'FROZEN'), 'TENANT_CLOSED');
      await expectCyclesError(ledger.updateLedger(APP, UNIT, { overdraftLimit: 10 }), 'TENANT_CLOSED');
      await expectCyclesError(ledger.removeLedger(APP, UNIT), 'TENANT_CLOSED');
      expect(await balanceOf(ledger, APP)).toEqual(before);
      expect(await ledger.getLedger('tenant:acme/app:new', UNIT)).toBeUndefined();
      // Closing is the one change left (the cascade's), and another tenant's budgets are untouched.
      expect((await ledger.setLedgerStatus(APP, UNIT, 'CLOSED')).status).toBe('CLOSED');
      const funded = await ledger.fund({
        scope: OTHER,
        unit: UNIT,
        funding: { operation: 'CREDIT', amount: 5 },
      });
      expect(funded.current.allocated).toBe(105);
    });

    it('refuses closing settings without status CLOSED, changing nothing', async () => {
      const { ledger } = await harness();
      if (ledger.closeTenant === undefined) {
        expect(options.cascadesTenantClose).toBe(true);
        return;
      }
      await seedBudget(ledger, TENANT, 1000);
      const live = (await ledger.reserve(reserveRequest(TENANT, 10))).reservationId!;
      const error = await expectCyclesError(
        ledger.closeTenant('acme', { status: 'ACTIVE' }),
        'INVALID_REQUEST',
      );
      expect(error.details).toMatchObject({ field: 'tenant.status' });
      expect((await ledger.getReservation(live)).status).toBe('ACTIVE');
      expect((await ledger.reserve(reserveRequest(TENANT, 1))).decision).toBe('ALLOW');
    });
  });
}
