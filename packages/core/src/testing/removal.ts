import { describe, expect, it } from 'vitest';
import {
  balanceOf,
  type ConformanceOptions,
  checkIdentity,
  expectCyclesError,
  freshKey,
  reserveRequest,
  seedBudget,
  snapshotLedgers,
  UNIT,
} from './fixtures.ts';
import { harnessFactory } from './harness.ts';

const TENANT = 'tenant:acme';
const RUN = 'tenant:acme/workflow:run-1';

/** Extension: removing a ledger that holds nothing (e.g. a finished run's), so ledgers per run do not pile up. */
export function registerRemovalTests(options: ConformanceOptions): void {
  describe('extension: removing a ledger', () => {
    const harness = harnessFactory(options);

    it('returns its last state, forgets it, and leaves its parents what it spent', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      await seedBudget(ledger, RUN, 300);
      const hold = await ledger.reserve(reserveRequest(RUN, 200));
      await ledger.commit(hold.reservationId!, {
        idempotencyKey: freshKey('commit'),
        actual: { unit: UNIT, amount: 120 },
      });
      const removed = await ledger.removeLedger(RUN, UNIT);
      expect(removed).toMatchObject({ scope: RUN, unit: UNIT, allocated: 300, spent: 120, reserved: 0 });
      expect(await ledger.getLedger(RUN, UNIT)).toBeUndefined();
      expect((await ledger.listLedgers()).map((state) => state.scope)).toEqual([TENANT]);
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ spent: 120, remaining: 880 });
      // Its finished reservations stay readable.
      expect(await ledger.getReservation(hold.reservationId!)).toMatchObject({ status: 'COMMITTED' });
      // The scope is now unbudgeted at its own level: only the tenant pays for it.
      await ledger.reserve(reserveRequest(RUN, 500));
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ reserved: 500, remaining: 380 });
      await checkIdentity(ledger);
    });

    it('a reservation holding on it → 409 with nothing changed; once settled it can go', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      await seedBudget(ledger, RUN, 300);
      const hold = await ledger.reserve(reserveRequest(RUN, 200));
      const before = await snapshotLedgers(ledger);
      await expect(ledger.removeLedger(RUN, UNIT)).rejects.toMatchObject({
        code: 'INVALID_REQUEST',
        status: 409,
        details: { scope: RUN, unit: UNIT, reserved: 200 },
      });
      expect(await snapshotLedgers(ledger)).toEqual(before);
      await ledger.release(hold.reservationId!, { idempotencyKey: freshKey('release') });
      await expect(ledger.removeLedger(RUN, UNIT)).resolves.toMatchObject({ reserved: 0, spent: 0 });
    });

    it('an unknown ledger → 404, also when removed twice', async () => {
      const { ledger } = await harness();
      await expectCyclesError(ledger.removeLedger(RUN, UNIT), 'NOT_FOUND');
      await seedBudget(ledger, RUN, 300);
      await ledger.removeLedger(RUN, UNIT);
      await expectCyclesError(ledger.removeLedger(RUN, UNIT), 'NOT_FOUND');
    });

    it('a templated scope gets a fresh ledger on its next use', async () => {
      const { ledger } = await harness();
      await ledger.addTemplate({ pattern: 'tenant:*/workflow:*', unit: UNIT, allocated: 300 });
      await seedBudget(ledger, TENANT, 1000);
      const hold = await ledger.reserve(reserveRequest(RUN, 250));
      await ledger.commit(hold.reservationId!, {
        idempotencyKey: freshKey('commit'),
        actual: { unit: UNIT, amount: 250 },
      });
      await ledger.removeLedger(RUN, UNIT);
      await ledger.reserve(reserveRequest(RUN, 250));
      expect(await balanceOf(ledger, RUN)).toMatchObject({ allocated: 300, spent: 0, reserved: 250 });
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ spent: 250, reserved: 250 });
    });
  });
}
