import { describe, expect, it } from 'vitest';
import type { Ledger } from '../ledger/types.ts';
import type { OveragePolicy } from '../protocol/enums.ts';
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

/** Commits `actual` on a fresh reservation of `estimate` at `scopePath`; returns id and response. */
async function reserveAndCommit(
  ledger: Ledger,
  scopePath: string,
  estimate: number,
  actual: number,
  overagePolicy?: OveragePolicy,
) {
  const reserved = await ledger.reserve(reserveRequest(scopePath, estimate, { overagePolicy }));
  const id = reserved.reservationId!;
  const committed = await ledger.commit(id, {
    idempotencyKey: freshKey('commit'),
    actual: { unit: UNIT, amount: actual },
  });
  return { id, committed };
}

/** Spends `amount` through an event, so later tests start from a given `spent`. */
async function spend(ledger: Ledger, scopePath: string, amount: number): Promise<void> {
  await ledger.createEvent({
    idempotencyKey: freshKey('event'),
    subject: subjectOf(scopePath),
    action: ACTION,
    actual: { unit: UNIT, amount },
  });
}

/** §2.4 commit arithmetic, §2.5 debt and the over-limit flag, §2.2 check order, §2.10 events. */
export function registerSettlementTests(options: ConformanceOptions): void {
  describe('settlement', () => {
    const harness = harnessFactory(options);

    it('under-spend: reserve 5000, commit 3000 charges 3000 and releases 2000', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 10_000);
      const { id, committed } = await reserveAndCommit(ledger, TENANT, 5000, 3000);
      expect(committed.status).toBe('COMMITTED');
      expect(committed.charged).toEqual({ unit: UNIT, amount: 3000 });
      expect(committed.released).toEqual({ unit: UNIT, amount: 2000 });
      const state = await balanceOf(ledger, TENANT);
      expect(state).toMatchObject({ allocated: 10_000, spent: 3000, reserved: 0, remaining: 7000, debt: 0 });
      const detail = await ledger.getReservation(id);
      expect(detail.status).toBe('COMMITTED');
      expect(detail.committed).toEqual({ unit: UNIT, amount: 3000 });
      expect(detail.finalizedAtMs).toBeTypeOf('number');
      await checkIdentity(ledger);
    });

    it('exact spend charges the estimate and releases nothing', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 10_000);
      const { committed } = await reserveAndCommit(ledger, TENANT, 5000, 5000);
      expect(committed.charged).toEqual({ unit: UNIT, amount: 5000 });
      expect(committed.released?.amount ?? 0).toBe(0);
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ spent: 5000, reserved: 0, remaining: 5000 });
      await checkIdentity(ledger);
    });

    it('an overrun that fits is charged in full under ALLOW_IF_AVAILABLE', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      const { committed } = await reserveAndCommit(ledger, TENANT, 100, 150, 'ALLOW_IF_AVAILABLE');
      expect(committed.charged.amount).toBe(150);
      expect(await balanceOf(ledger, TENANT)).toMatchObject({
        spent: 150,
        remaining: 850,
        debt: 0,
        isOverLimit: false,
      });
      await checkIdentity(ledger);
    });

    it('capped overrun (ALLOW_IF_AVAILABLE): spent 950, reserve 50, commit 80 charges 50 and flags', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      await spend(ledger, TENANT, 950);
      const { committed } = await reserveAndCommit(ledger, TENANT, 50, 80, 'ALLOW_IF_AVAILABLE');
      expect(committed.charged.amount).toBe(50);
      expect(await balanceOf(ledger, TENANT)).toMatchObject({
        spent: 1000,
        remaining: 0,
        debt: 0,
        isOverLimit: true,
      });
      await checkIdentity(ledger);
    });

    it('overdraft inside the limit: commit 80 on 50 held with L=100 books debt 30', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000, { overdraftLimit: 100 });
      await spend(ledger, TENANT, 950);
      const { committed } = await reserveAndCommit(ledger, TENANT, 50, 80, 'ALLOW_WITH_OVERDRAFT');
      expect(committed.charged.amount).toBe(80);
      expect(await balanceOf(ledger, TENANT)).toMatchObject({
        spent: 1000,
        debt: 30,
        remaining: -30,
        reserved: 0,
        isOverLimit: false,
      });
      await checkIdentity(ledger);
    });

    it('overdraft beyond the limit: 409 OVERDRAFT_LIMIT_EXCEEDED, nothing written, hold intact', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000, { overdraftLimit: 20 });
      await spend(ledger, TENANT, 950);
      const reserved = await ledger.reserve(
        reserveRequest(TENANT, 50, { overagePolicy: 'ALLOW_WITH_OVERDRAFT' }),
      );
      const before = await snapshotLedgers(ledger);
      await expectCyclesError(
        ledger.commit(reserved.reservationId!, {
          idempotencyKey: freshKey('commit'),
          actual: { unit: UNIT, amount: 80 },
        }),
        'OVERDRAFT_LIMIT_EXCEEDED',
      );
      expect(await snapshotLedgers(ledger)).toEqual(before);
      expect((await ledger.getReservation(reserved.reservationId!)).status).toBe('ACTIVE');
      const retry = await ledger.commit(reserved.reservationId!, {
        idempotencyKey: freshKey('commit'),
        actual: { unit: UNIT, amount: 70 },
      });
      expect(retry.charged.amount).toBe(70);
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ spent: 1000, debt: 20, remaining: -20 });
      await checkIdentity(ledger);
    });

    it('REJECT overrun: 409 BUDGET_EXCEEDED, the hold stays ACTIVE and can still settle', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 100);
      const reserved = await ledger.reserve(reserveRequest(TENANT, 100, { overagePolicy: 'REJECT' }));
      const id = reserved.reservationId!;
      const before = await snapshotLedgers(ledger);
      await expectCyclesError(
        ledger.commit(id, { idempotencyKey: freshKey('commit'), actual: { unit: UNIT, amount: 150 } }),
        'BUDGET_EXCEEDED',
      );
      expect(await snapshotLedgers(ledger)).toEqual(before);
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ reserved: 100, remaining: 0, spent: 0 });
      expect((await ledger.getReservation(id)).status).toBe('ACTIVE');
      const settled = await ledger.commit(id, {
        idempotencyKey: freshKey('commit'),
        actual: { unit: UNIT, amount: 90 },
      });
      expect(settled.charged.amount).toBe(90);
      await checkIdentity(ledger);
    });

    it('REJECT never charges more than the estimate, even with budget to spare', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 10_000);
      const reserved = await ledger.reserve(reserveRequest(TENANT, 100, { overagePolicy: 'REJECT' }));
      await expectCyclesError(
        ledger.commit(reserved.reservationId!, {
          idempotencyKey: freshKey('commit'),
          actual: { unit: UNIT, amount: 101 },
        }),
        'BUDGET_EXCEEDED',
      );
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ reserved: 100, spent: 0 });
    });

    it.each(['ALLOW_IF_AVAILABLE', 'ALLOW_WITH_OVERDRAFT'] as const)(
      'two levels (%s, L=0): parent 150, child 1000, reserve 100, commit 200 → charged 150, only the parent flagged',
      async (policy) => {
        const { ledger } = await harness();
        await seedBudget(ledger, TENANT, 150);
        await seedBudget(ledger, CHILD, 1000);
        const { committed } = await reserveAndCommit(ledger, CHILD, 100, 200, policy);
        expect(committed.charged.amount).toBe(150);
        expect(await balanceOf(ledger, TENANT)).toMatchObject({
          spent: 150,
          remaining: 0,
          debt: 0,
          isOverLimit: true,
        });
        expect(await balanceOf(ledger, CHILD)).toMatchObject({
          spent: 150,
          remaining: 850,
          debt: 0,
          isOverLimit: false,
        });
        await checkIdentity(ledger);
      },
    );

    it('event variant: parent 50, child 950, event 100 → charged 50, the parent flagged', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 50);
      await seedBudget(ledger, CHILD, 950);
      const event = await ledger.createEvent({
        idempotencyKey: freshKey('event'),
        subject: subjectOf(CHILD),
        action: ACTION,
        actual: { unit: UNIT, amount: 100 },
        overagePolicy: 'ALLOW_IF_AVAILABLE',
      });
      expect(event.status).toBe('APPLIED');
      expect(event.eventId).toBeTruthy();
      expect(event.charged).toEqual({ unit: UNIT, amount: 50 });
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ spent: 50, remaining: 0, isOverLimit: true });
      expect(await balanceOf(ledger, CHILD)).toMatchObject({ spent: 50, remaining: 900, isOverLimit: false });
      await checkIdentity(ledger);
    });

    it('an uncapped event reports no charged amount and debits every budgeted scope', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 500);
      await seedBudget(ledger, CHILD, 300);
      const event = await ledger.createEvent({
        idempotencyKey: freshKey('event'),
        subject: subjectOf(CHILD),
        action: ACTION,
        actual: { unit: UNIT, amount: 120 },
      });
      expect(event.charged?.amount ?? 120).toBe(120);
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ spent: 120, remaining: 380 });
      expect(await balanceOf(ledger, CHILD)).toMatchObject({ spent: 120, remaining: 180 });
    });

    it('a REJECT event that does not fit gets 409 BUDGET_EXCEEDED and changes nothing', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 50);
      await seedBudget(ledger, CHILD, 950);
      const before = await snapshotLedgers(ledger);
      await expectCyclesError(
        ledger.createEvent({
          idempotencyKey: freshKey('event'),
          subject: subjectOf(CHILD),
          action: ACTION,
          actual: { unit: UNIT, amount: 100 },
          overagePolicy: 'REJECT',
        }),
        'BUDGET_EXCEEDED',
      );
      expect(await snapshotLedgers(ledger)).toEqual(before);
    });

    it('client_time_ms never changes an event outcome', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      for (const clientTimeMs of [0, Date.UTC(2099, 0, 1)]) {
        const event = await ledger.createEvent({
          idempotencyKey: freshKey('event'),
          subject: subjectOf(TENANT),
          action: ACTION,
          actual: { unit: UNIT, amount: 100 },
          clientTimeMs,
        });
        expect(event.status).toBe('APPLIED');
      }
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ spent: 200, remaining: 800 });
    });

    it('a commit on a finalized reservation is FINALIZED before any unit check', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      await seedBudget(ledger, TENANT, 1000, { unit: 'CREDITS' });
      const { id } = await reserveAndCommit(ledger, TENANT, 100, 50);
      await expectCyclesError(
        ledger.commit(id, { idempotencyKey: freshKey('commit'), actual: { unit: 'CREDITS', amount: 5 } }),
        'RESERVATION_FINALIZED',
      );
    });

    it('an overdraft event books the shortfall as debt', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 100, { overdraftLimit: 50 });
      await ledger.createEvent({
        idempotencyKey: freshKey('event'),
        subject: subjectOf(TENANT),
        action: ACTION,
        actual: { unit: UNIT, amount: 130 },
        overagePolicy: 'ALLOW_WITH_OVERDRAFT',
      });
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ spent: 100, debt: 30, remaining: -30 });
      await expectCyclesError(
        ledger.createEvent({
          idempotencyKey: freshKey('event'),
          subject: subjectOf(TENANT),
          action: ACTION,
          actual: { unit: UNIT, amount: 21 },
          overagePolicy: 'ALLOW_WITH_OVERDRAFT',
        }),
        'OVERDRAFT_LIMIT_EXCEEDED',
      );
      await checkIdentity(ledger);
    });
  });

  describe('reserve gates (§2.2)', () => {
    const harness = harnessFactory(options);

    /** Parent 160 and child 260; leaves the child flagged with remaining 100 and the parent refunded. */
    async function flaggedChild(ledger: Ledger) {
      await seedBudget(ledger, TENANT, 160);
      await seedBudget(ledger, CHILD, 260);
      const held = await ledger.reserve(reserveRequest(CHILD, 10));
      await reserveAndCommit(ledger, CHILD, 100, 300, 'ALLOW_IF_AVAILABLE');
      expect(await balanceOf(ledger, CHILD)).toMatchObject({ isOverLimit: true, remaining: 100 });
      await ledger.fund({ scope: TENANT, unit: UNIT, funding: { operation: 'CREDIT', amount: 1000 } });
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ isOverLimit: false });
      return held.reservationId!;
    }

    it('an over-limit scope blocks reserve even when remaining suffices; existing holds still settle', async () => {
      const { ledger } = await harness();
      const heldId = await flaggedChild(ledger);
      const before = await snapshotLedgers(ledger);
      await expectCyclesError(ledger.reserve(reserveRequest(CHILD, 10)), 'OVERDRAFT_LIMIT_EXCEEDED');
      expect(await snapshotLedgers(ledger)).toEqual(before);
      const decided = await ledger.decide({
        idempotencyKey: freshKey('decide'),
        subject: subjectOf(CHILD),
        action: ACTION,
        estimate: { unit: UNIT, amount: 10 },
      });
      expect(decided.decision).toBe('DENY');
      expect(decided.reasonCode).toBe('OVERDRAFT_LIMIT_EXCEEDED');
      const committed = await ledger.commit(heldId, {
        idempotencyKey: freshKey('commit'),
        actual: { unit: UNIT, amount: 5 },
      });
      expect(committed.charged.amount).toBe(5);
      await checkIdentity(ledger);
    });

    it('over-limit flags and debt do not block events', async () => {
      const { ledger } = await harness();
      await flaggedChild(ledger);
      const event = await ledger.createEvent({
        idempotencyKey: freshKey('event'),
        subject: subjectOf(CHILD),
        action: ACTION,
        actual: { unit: UNIT, amount: 60 },
      });
      expect(event.status).toBe('APPLIED');
      expect(event.charged?.amount ?? 60).toBe(60);
      expect(await balanceOf(ledger, CHILD)).toMatchObject({ spent: 210, remaining: 40, isOverLimit: true });
      await checkIdentity(ledger);
    });

    it('funding clears a flag that capping set', async () => {
      const { ledger } = await harness();
      await flaggedChild(ledger);
      await ledger.fund({ scope: CHILD, unit: UNIT, funding: { operation: 'CREDIT', amount: 10 } });
      expect(await balanceOf(ledger, CHILD)).toMatchObject({ isOverLimit: false, remaining: 110 });
      const reserved = await ledger.reserve(reserveRequest(CHILD, 10));
      expect(reserved.decision).not.toBe('DENY');
    });

    it('debt with a zero limit blocks reserve with DEBT_OUTSTANDING (not flagged over-limit)', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 100, { overdraftLimit: 50 });
      await ledger.createEvent({
        idempotencyKey: freshKey('event'),
        subject: subjectOf(TENANT),
        action: ACTION,
        actual: { unit: UNIT, amount: 130 },
        overagePolicy: 'ALLOW_WITH_OVERDRAFT',
      });
      await ledger.fund({ scope: TENANT, unit: UNIT, funding: { operation: 'CREDIT', amount: 1000 } });
      await ledger.updateLedger(TENANT, UNIT, { overdraftLimit: 0 });
      // Over-limit is debt beyond a positive limit; with a zero limit the state is DEBT_OUTSTANDING.
      const state = await balanceOf(ledger, TENANT);
      expect(state).toMatchObject({ debt: 30, overdraftLimit: 0, remaining: 970, isOverLimit: false });
      const before = await snapshotLedgers(ledger);
      await expectCyclesError(ledger.reserve(reserveRequest(TENANT, 10)), 'DEBT_OUTSTANDING');
      expect(await snapshotLedgers(ledger)).toEqual(before);
      const decided = await ledger.decide({
        idempotencyKey: freshKey('decide'),
        subject: subjectOf(TENANT),
        action: ACTION,
        estimate: { unit: UNIT, amount: 10 },
      });
      expect(decided).toMatchObject({ decision: 'DENY', reasonCode: 'DEBT_OUTSTANDING' });
      const dryRun = await ledger.reserve(reserveRequest(TENANT, 10, { dryRun: true }));
      expect(dryRun).toMatchObject({ decision: 'DENY', reasonCode: 'DEBT_OUTSTANDING' });
      // Partial repayment leaves debt with a zero limit: still DEBT_OUTSTANDING; full repayment clears it.
      await ledger.fund({ scope: TENANT, unit: UNIT, funding: { operation: 'REPAY_DEBT', amount: 10 } });
      await expectCyclesError(ledger.reserve(reserveRequest(TENANT, 10)), 'DEBT_OUTSTANDING');
      await ledger.fund({ scope: TENANT, unit: UNIT, funding: { operation: 'REPAY_DEBT', amount: 20 } });
      expect((await ledger.reserve(reserveRequest(TENANT, 10))).decision).toBe('ALLOW');
    });

    it('the over-limit flag is checked before debt (OVERDRAFT_LIMIT_EXCEEDED wins over DEBT_OUTSTANDING)', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 100, { overdraftLimit: 50 });
      await ledger.createEvent({
        idempotencyKey: freshKey('event'),
        subject: subjectOf(TENANT),
        action: ACTION,
        actual: { unit: UNIT, amount: 130 },
        overagePolicy: 'ALLOW_WITH_OVERDRAFT',
      });
      await ledger.updateLedger(TENANT, UNIT, { overdraftLimit: 0 });
      await expectCyclesError(ledger.reserve(reserveRequest(TENANT, 1)), 'DEBT_OUTSTANDING');
      // A capped overrun flags the scope; the flag comes first in the §2.2 walk.
      await ledger.createEvent({
        idempotencyKey: freshKey('event'),
        subject: subjectOf(TENANT),
        action: ACTION,
        actual: { unit: UNIT, amount: 5 },
        overagePolicy: 'ALLOW_IF_AVAILABLE',
      });
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ debt: 30, isOverLimit: true });
      await expectCyclesError(ledger.reserve(reserveRequest(TENANT, 1)), 'OVERDRAFT_LIMIT_EXCEEDED');
      const decided = await ledger.decide({
        idempotencyKey: freshKey('decide'),
        subject: subjectOf(TENANT),
        action: ACTION,
        estimate: { unit: UNIT, amount: 1 },
      });
      expect(decided).toMatchObject({ decision: 'DENY', reasonCode: 'OVERDRAFT_LIMIT_EXCEEDED' });
    });

    it('debt with a positive limit does not block a reserve that fits', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 100, { overdraftLimit: 50 });
      await ledger.createEvent({
        idempotencyKey: freshKey('event'),
        subject: subjectOf(TENANT),
        action: ACTION,
        actual: { unit: UNIT, amount: 130 },
        overagePolicy: 'ALLOW_WITH_OVERDRAFT',
      });
      await expectCyclesError(ledger.reserve(reserveRequest(TENANT, 10)), 'BUDGET_EXCEEDED');
      await ledger.fund({ scope: TENANT, unit: UNIT, funding: { operation: 'CREDIT', amount: 100 } });
      const reserved = await ledger.reserve(reserveRequest(TENANT, 10));
      expect(reserved.reservationId).toBeTruthy();
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ debt: 30, reserved: 10, remaining: 60 });
    });

    it('FROZEN wins over an over-limit flag and a short remaining', async () => {
      const { ledger } = await harness();
      await flaggedChild(ledger);
      await ledger.setLedgerStatus(CHILD, UNIT, 'FROZEN');
      await expectCyclesError(ledger.reserve(reserveRequest(CHILD, 500)), 'BUDGET_FROZEN');
    });

    it('CLOSED wins over an over-limit flag and a short remaining', async () => {
      const { ledger } = await harness();
      await flaggedChild(ledger);
      await ledger.setLedgerStatus(CHILD, UNIT, 'CLOSED');
      await expectCyclesError(ledger.reserve(reserveRequest(CHILD, 500)), 'BUDGET_CLOSED');
    });

    it('a FROZEN parent wins over a CLOSED child', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      await seedBudget(ledger, CHILD, 1000);
      await ledger.setLedgerStatus(TENANT, UNIT, 'FROZEN');
      await ledger.setLedgerStatus(CHILD, UNIT, 'CLOSED');
      await expectCyclesError(ledger.reserve(reserveRequest(CHILD, 10)), 'BUDGET_FROZEN');
    });

    it('over-limit wins over a short remaining', async () => {
      const { ledger } = await harness();
      await flaggedChild(ledger);
      await expectCyclesError(ledger.reserve(reserveRequest(CHILD, 500)), 'OVERDRAFT_LIMIT_EXCEEDED');
    });

    it('a short remaining on any scope refuses the whole reserve (all or nothing)', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      await seedBudget(ledger, CHILD, 100);
      const before = await snapshotLedgers(ledger);
      await expectCyclesError(ledger.reserve(reserveRequest(CHILD, 101)), 'BUDGET_EXCEEDED');
      expect(await snapshotLedgers(ledger)).toEqual(before);
      const reserved = await ledger.reserve(reserveRequest(CHILD, 100));
      expect(reserved.affectedScopes).toEqual([TENANT, CHILD]);
      expect(reserved.scopePath).toBe(CHILD);
      expect(reserved.reserved).toEqual({ unit: UNIT, amount: 100 });
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ reserved: 100, remaining: 900 });
      expect(await balanceOf(ledger, CHILD)).toMatchObject({ reserved: 100, remaining: 0 });
    });

    it('a live reserve answers ALLOW_WITH_CAPS with the leaf ledger caps', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000, { caps: { maxTokens: 256 } });
      const reserved = await ledger.reserve(reserveRequest(TENANT, 10));
      expect(reserved.decision).toBe('ALLOW_WITH_CAPS');
      expect(reserved.caps).toEqual({ maxTokens: 256 });
      const plain = await harness();
      await seedBudget(plain.ledger, TENANT, 1000);
      const allowed = await plain.ledger.reserve(reserveRequest(TENANT, 10));
      expect(allowed.decision).toBe('ALLOW');
      expect(allowed.caps).toBeUndefined();
    });
  });
}
