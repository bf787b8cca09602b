import { describe, expect, it } from 'vitest';
import type { ManualClock } from '../clock.ts';
import type { Ledger } from '../ledger/types.ts';
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
const TTL = 10_000;
const GRACE = 5000;

/** Holds `estimate` on TENANT and CHILD with a 10 s TTL and 5 s grace; returns the id and expiry. */
async function hold(ledger: Ledger, estimate = 100) {
  const response = await ledger.reserve(
    reserveRequest(CHILD, estimate, { ttlMs: TTL, gracePeriodMs: GRACE }),
  );
  return { id: response.reservationId!, expiresAtMs: response.expiresAtMs! };
}

function commitBody(amount: number) {
  return { idempotencyKey: freshKey('commit'), actual: { unit: UNIT, amount } };
}

async function seedTwoLevels(ledger: Ledger): Promise<void> {
  await seedBudget(ledger, TENANT, 1000);
  await seedBudget(ledger, CHILD, 500);
}

/** Asserts both ledgers are back to their seeded state: no hold, nothing spent. */
async function expectUntouched(ledger: Ledger): Promise<void> {
  expect(await balanceOf(ledger, TENANT)).toMatchObject({ reserved: 0, spent: 0, remaining: 1000 });
  expect(await balanceOf(ledger, CHILD)).toMatchObject({ reserved: 0, spent: 0, remaining: 500 });
}

/** Moves past expiry + grace. */
function pastGrace(clock: ManualClock): void {
  clock.advance(TTL + GRACE + 1);
}

/** §2.6 release, §2.7 extend, expiry and grace, reservation reads. */
export function registerLifecycleTests(options: ConformanceOptions): void {
  describe('lifecycle', () => {
    const harness = harnessFactory(options);

    it('reserve returns an id, the expiry and the remaining TTL from the server clock', async () => {
      const { ledger, clock } = await harness();
      await seedTwoLevels(ledger);
      const response = await ledger.reserve(reserveRequest(CHILD, 100, { ttlMs: TTL }));
      expect(response.decision).toBe('ALLOW');
      expect(response.expiresAtMs).toBe(clock.now() + TTL);
      expect(response.remainingTtlMs).toBe(TTL);
      const detail = await ledger.getReservation(response.reservationId!);
      expect(detail).toMatchObject({
        reservationId: response.reservationId,
        status: 'ACTIVE',
        reserved: { unit: UNIT, amount: 100 },
        createdAtMs: clock.now(),
        expiresAtMs: clock.now() + TTL,
        scopePath: CHILD,
        affectedScopes: [TENANT, CHILD],
      });
      expect(detail.finalizedAtMs).toBeUndefined();
    });

    it('release returns the full hold to every scope', async () => {
      const { ledger } = await harness();
      await seedTwoLevels(ledger);
      const { id } = await hold(ledger, 400);
      expect(await balanceOf(ledger, CHILD)).toMatchObject({ reserved: 400, remaining: 100 });
      const released = await ledger.release(id, { idempotencyKey: freshKey('release'), reason: 'done' });
      expect(released).toMatchObject({ status: 'RELEASED', released: { unit: UNIT, amount: 400 } });
      await expectUntouched(ledger);
      const detail = await ledger.getReservation(id);
      expect(detail.status).toBe('RELEASED');
      expect(detail.finalizedAtMs).toBeTypeOf('number');
      await checkIdentity(ledger);
    });

    it('a finalized reservation refuses commit, release and extend under new keys with 409', async () => {
      const { ledger } = await harness();
      await seedTwoLevels(ledger);
      const { id } = await hold(ledger);
      await ledger.commit(id, commitBody(60));
      const before = await snapshotLedgers(ledger);
      await expectCyclesError(ledger.commit(id, commitBody(60)), 'RESERVATION_FINALIZED');
      await expectCyclesError(
        ledger.release(id, { idempotencyKey: freshKey('release') }),
        'RESERVATION_FINALIZED',
      );
      await expectCyclesError(
        ledger.extend(id, { idempotencyKey: freshKey('extend'), extendByMs: 1000 }),
        'RESERVATION_FINALIZED',
      );
      expect(await snapshotLedgers(ledger)).toEqual(before);
      expect((await ledger.getReservation(id)).status).toBe('COMMITTED');
    });

    it('commit inside the grace period succeeds (boundary: expiry + grace exactly)', async () => {
      const { ledger, clock } = await harness();
      await seedTwoLevels(ledger);
      const { id } = await hold(ledger);
      clock.advance(TTL + GRACE);
      const committed = await ledger.commit(id, commitBody(70));
      expect(committed.charged.amount).toBe(70);
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ spent: 70, reserved: 0, remaining: 930 });
    });

    it('release inside the grace period succeeds', async () => {
      const { ledger, clock } = await harness();
      await seedTwoLevels(ledger);
      const { id } = await hold(ledger);
      clock.advance(TTL + 1);
      await ledger.release(id, { idempotencyKey: freshKey('release') });
      await expectUntouched(ledger);
    });

    it('commit and release after the grace period get 410, spending nothing', async () => {
      const { ledger, clock } = await harness();
      await seedTwoLevels(ledger);
      const { id } = await hold(ledger);
      pastGrace(clock);
      await expectCyclesError(ledger.commit(id, commitBody(70)), 'RESERVATION_EXPIRED');
      await expectCyclesError(
        ledger.release(id, { idempotencyKey: freshKey('release') }),
        'RESERVATION_EXPIRED',
      );
      await ledger.sweepExpired();
      await expectUntouched(ledger);
    });

    it('extend adds to the current expiry, not to now', async () => {
      const { ledger, clock } = await harness();
      await seedTwoLevels(ledger);
      const { id, expiresAtMs } = await hold(ledger);
      clock.advance(4000);
      const extended = await ledger.extend(id, { idempotencyKey: freshKey('extend'), extendByMs: 3000 });
      expect(extended.status).toBe('ACTIVE');
      expect(extended.expiresAtMs).toBe(expiresAtMs + 3000);
      expect(extended.remainingTtlMs ?? expiresAtMs + 3000 - clock.now()).toBe(
        expiresAtMs + 3000 - clock.now(),
      );
      expect((await ledger.getReservation(id)).expiresAtMs).toBe(expiresAtMs + 3000);
      expect(await balanceOf(ledger, CHILD)).toMatchObject({ reserved: 100, remaining: 400 });
      clock.advance(TTL - 4000 + GRACE + 1000);
      const committed = await ledger.commit(id, commitBody(10));
      expect(committed.charged.amount).toBe(10);
    });

    it('extend at the expiry instant succeeds; during grace it gets 410', async () => {
      const { ledger, clock } = await harness();
      await seedTwoLevels(ledger);
      const first = await hold(ledger);
      const second = await hold(ledger);
      clock.advance(TTL);
      await ledger.extend(first.id, { idempotencyKey: freshKey('extend'), extendByMs: 1000 });
      clock.advance(1);
      await expectCyclesError(
        ledger.extend(second.id, { idempotencyKey: freshKey('extend'), extendByMs: 1000 }),
        'RESERVATION_EXPIRED',
      );
      const committed = await ledger.commit(second.id, commitBody(100));
      expect(committed.charged.amount).toBe(100);
    });

    it('the 11th extension gets 409 MAX_EXTENSIONS_EXCEEDED (default limit 10)', async () => {
      const { ledger } = await harness();
      await seedTwoLevels(ledger);
      const { id, expiresAtMs } = await hold(ledger);
      for (let count = 1; count <= 10; count += 1) {
        const extended = await ledger.extend(id, { idempotencyKey: freshKey('extend'), extendByMs: 100 });
        expect(extended.expiresAtMs).toBe(expiresAtMs + count * 100);
      }
      await expectCyclesError(
        ledger.extend(id, { idempotencyKey: freshKey('extend'), extendByMs: 100 }),
        'MAX_EXTENSIONS_EXCEEDED',
      );
      expect((await ledger.getReservation(id)).expiresAtMs).toBe(expiresAtMs + 1000);
    });

    it("the tenant's maxReservationExtensions caps extensions", async () => {
      const { ledger } = await harness();
      await ledger.setTenant('acme', { maxReservationExtensions: 2 });
      await seedTwoLevels(ledger);
      const { id } = await hold(ledger);
      await ledger.extend(id, { idempotencyKey: freshKey('extend'), extendByMs: 100 });
      await ledger.extend(id, { idempotencyKey: freshKey('extend'), extendByMs: 100 });
      await expectCyclesError(
        ledger.extend(id, { idempotencyKey: freshKey('extend'), extendByMs: 100 }),
        'MAX_EXTENSIONS_EXCEEDED',
      );
    });

    it('the sweeper leaves holds in grace alone and expires them after, returning exactly E', async () => {
      const { ledger, clock } = await harness();
      await seedTwoLevels(ledger);
      await ledger.createEvent({
        idempotencyKey: freshKey('event'),
        subject: subjectOf(CHILD),
        action: ACTION,
        actual: { unit: UNIT, amount: 30 },
      });
      const { id } = await hold(ledger, 250);
      clock.advance(TTL + 1);
      expect(await ledger.sweepExpired()).toBe(0);
      expect((await ledger.getReservation(id)).status).toBe('ACTIVE');
      expect(await balanceOf(ledger, CHILD)).toMatchObject({ reserved: 250, spent: 30, remaining: 220 });
      clock.advance(GRACE);
      expect(await ledger.sweepExpired()).toBe(1);
      expect(await ledger.sweepExpired()).toBe(0);
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ reserved: 0, spent: 30, remaining: 970 });
      expect(await balanceOf(ledger, CHILD)).toMatchObject({ reserved: 0, spent: 30, remaining: 470 });
      await expectCyclesError(ledger.getReservation(id), 'RESERVATION_EXPIRED');
      const listed = await ledger.listReservations({ tenant: 'acme', status: 'EXPIRED' });
      expect(listed.reservations.map((row) => row.reservationId)).toEqual([id]);
      expect(listed.reservations[0]?.finalizedAtMs).toBeUndefined();
      await expectCyclesError(ledger.commit(id, commitBody(10)), 'RESERVATION_EXPIRED');
      await expectCyclesError(
        ledger.extend(id, { idempotencyKey: freshKey('extend'), extendByMs: 1000 }),
        'RESERVATION_EXPIRED',
      );
      await checkIdentity(ledger);
    });

    if (options.expiresLazily === true) {
      it('expiry is observed lazily on access, without a sweep', async () => {
        const { ledger, clock } = await harness();
        await seedTwoLevels(ledger);
        const { id } = await hold(ledger, 250);
        pastGrace(clock);
        expect(await balanceOf(ledger, CHILD)).toMatchObject({ reserved: 0, spent: 0, remaining: 500 });
        const balances = await ledger.getBalances({ tenant: 'acme' });
        const tenantRow = balances.balances.find((row) => row.scopePath === TENANT);
        expect(tenantRow?.remaining.amount).toBe(1000);
        expect(tenantRow?.reserved?.amount ?? 0).toBe(0);
        await expectCyclesError(ledger.getReservation(id), 'RESERVATION_EXPIRED');
        expect(await ledger.sweepExpired()).toBe(0);
        await expectUntouched(ledger);
      });
    }

    it('getReservation: unknown id → 404', async () => {
      const { ledger } = await harness();
      await seedTwoLevels(ledger);
      await expectCyclesError(ledger.getReservation('res_does_not_exist'), 'NOT_FOUND');
      await expectCyclesError(ledger.commit('res_does_not_exist', commitBody(1)), 'NOT_FOUND');
      await expectCyclesError(
        ledger.release('res_does_not_exist', { idempotencyKey: freshKey('release') }),
        'NOT_FOUND',
      );
      await expectCyclesError(
        ledger.extend('res_does_not_exist', { idempotencyKey: freshKey('extend'), extendByMs: 1000 }),
        'NOT_FOUND',
      );
    });

    it('a FROZEN ledger refuses reserve, events and funding but lets existing holds settle', async () => {
      const { ledger } = await harness();
      await seedTwoLevels(ledger);
      const first = await hold(ledger);
      const second = await hold(ledger);
      await ledger.setLedgerStatus(CHILD, UNIT, 'FROZEN');
      const before = await snapshotLedgers(ledger);
      await expectCyclesError(ledger.reserve(reserveRequest(CHILD, 1)), 'BUDGET_FROZEN');
      await expectCyclesError(
        ledger.createEvent({
          idempotencyKey: freshKey('event'),
          subject: subjectOf(CHILD),
          action: ACTION,
          actual: { unit: UNIT, amount: 1 },
        }),
        'BUDGET_FROZEN',
      );
      const funding = ledger.fund({ scope: CHILD, unit: UNIT, funding: { operation: 'CREDIT', amount: 1 } });
      await expect(funding).rejects.toMatchObject({ status: 409 });
      expect(await snapshotLedgers(ledger)).toEqual(before);
      expect((await ledger.commit(first.id, commitBody(40))).charged.amount).toBe(40);
      await ledger.release(second.id, { idempotencyKey: freshKey('release') });
      expect(await balanceOf(ledger, CHILD)).toMatchObject({ status: 'FROZEN', reserved: 0, spent: 40 });
      await ledger.setLedgerStatus(CHILD, UNIT, 'ACTIVE');
      expect((await ledger.reserve(reserveRequest(CHILD, 1))).reservationId).toBeTruthy();
      await checkIdentity(ledger);
    });

    it('CLOSED is terminal', async () => {
      const { ledger } = await harness();
      await seedTwoLevels(ledger);
      await ledger.setLedgerStatus(CHILD, UNIT, 'CLOSED');
      await expect(ledger.setLedgerStatus(CHILD, UNIT, 'ACTIVE')).rejects.toMatchObject({
        status: expect.any(Number),
      });
      expect((await balanceOf(ledger, CHILD)).status).toBe('CLOSED');
      await expectCyclesError(ledger.reserve(reserveRequest(CHILD, 1)), 'BUDGET_CLOSED');
    });
  });
}
