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
  withoutRemainingTtl,
} from './fixtures.ts';
import { harnessFactory } from './harness.ts';

const TENANT = 'tenant:acme';
const CHILD = 'tenant:acme/app:chat';

/** §2.8: same key + same payload replays verbatim; same key + new payload is 409. */
export function registerIdempotencyTests(options: ConformanceOptions): void {
  describe('idempotency', () => {
    const harness = harnessFactory(options);

    it('reserve replay: identical body (only remainingTtlMs recomputed), one hold', async () => {
      const { ledger, clock } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      await seedBudget(ledger, CHILD, 500);
      const request = reserveRequest(CHILD, 100, { ttlMs: 30_000 });
      const first = await ledger.reserve(request);
      clock.advance(1000);
      const before = await snapshotLedgers(ledger);
      const replay = await ledger.reserve({ ...request });
      expect(withoutRemainingTtl(replay)).toEqual(withoutRemainingTtl(first));
      expect(replay.remainingTtlMs).toBe(first.expiresAtMs! - clock.now());
      expect(await snapshotLedgers(ledger)).toEqual(before);
      expect(await balanceOf(ledger, CHILD)).toMatchObject({ reserved: 100 });
      await ledger.commit(first.reservationId!, {
        idempotencyKey: freshKey('commit'),
        actual: { unit: UNIT, amount: 10 },
      });
      const afterCommit = await ledger.reserve({ ...request });
      expect(withoutRemainingTtl(afterCommit)).toEqual(withoutRemainingTtl(first));
      expect(afterCommit.remainingTtlMs ?? 0).toBe(0);
      expect(await balanceOf(ledger, CHILD)).toMatchObject({ reserved: 0, spent: 10 });
    });

    it("a reserve replay during the hold's own TTL + grace never holds twice, even past 24 h", async () => {
      const { ledger, clock } = await harness();
      await ledger.setTenant('acme', { maxReservationTtlMs: 86_400_000 });
      await seedBudget(ledger, TENANT, 1000);
      const request = reserveRequest(TENANT, 100, { ttlMs: 86_400_000, gracePeriodMs: 60_000 });
      const first = await ledger.reserve(request);
      expect(first.expiresAtMs).toBe(clock.now() + 86_400_000);
      clock.advance(86_400_000 + 30_000);
      const replay = await ledger.reserve({ ...request });
      expect(withoutRemainingTtl(replay)).toEqual(withoutRemainingTtl(first));
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ reserved: 100, remaining: 900 });
    });

    it('reserve with the same key and a different payload → 409 IDEMPOTENCY_MISMATCH', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      const request = reserveRequest(TENANT, 100);
      await ledger.reserve(request);
      const before = await snapshotLedgers(ledger);
      await expectCyclesError(
        ledger.reserve({ ...request, estimate: { unit: UNIT, amount: 101 } }),
        'IDEMPOTENCY_MISMATCH',
      );
      await expectCyclesError(ledger.reserve({ ...request, ttlMs: 20_000 }), 'IDEMPOTENCY_MISMATCH');
      await expectCyclesError(ledger.reserve({ ...request, dryRun: true }), 'IDEMPOTENCY_MISMATCH');
      expect(await snapshotLedgers(ledger)).toEqual(before);
    });

    it('a refused reserve is not cached: a retry under the same key is re-evaluated', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 50);
      const request = reserveRequest(TENANT, 100);
      await expectCyclesError(ledger.reserve(request), 'BUDGET_EXCEEDED');
      await ledger.fund({ scope: TENANT, unit: UNIT, funding: { operation: 'CREDIT', amount: 50 } });
      const retried = await ledger.reserve({ ...request });
      expect(retried.reservationId).toBeTruthy();
    });

    it('commit replay: identical body, charged once; a new payload → 409; a new key → 409 FINALIZED', async () => {
      const { ledger, clock } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      const id = (await ledger.reserve(reserveRequest(TENANT, 100, { ttlMs: 1000, gracePeriodMs: 0 })))
        .reservationId!;
      const commit = { idempotencyKey: freshKey('commit'), actual: { unit: UNIT, amount: 60 } };
      const first = await ledger.commit(id, commit);
      const before = await snapshotLedgers(ledger);
      expect(await ledger.commit(id, { ...commit })).toEqual(first);
      clock.advance(10_000);
      await ledger.sweepExpired();
      expect(await ledger.commit(id, { ...commit })).toEqual(first);
      expect(await snapshotLedgers(ledger)).toEqual(before);
      await expectCyclesError(
        ledger.commit(id, { ...commit, actual: { unit: UNIT, amount: 61 } }),
        'IDEMPOTENCY_MISMATCH',
      );
      await expectCyclesError(
        ledger.commit(id, { idempotencyKey: freshKey('commit'), actual: { unit: UNIT, amount: 60 } }),
        'RESERVATION_FINALIZED',
      );
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ spent: 60, reserved: 0, remaining: 940 });
    });

    it('release replay: identical body, released once', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      const id = (await ledger.reserve(reserveRequest(TENANT, 100))).reservationId!;
      const release = { idempotencyKey: freshKey('release'), reason: 'not needed' };
      const first = await ledger.release(id, release);
      const before = await snapshotLedgers(ledger);
      expect(await ledger.release(id, { ...release })).toEqual(first);
      expect(await snapshotLedgers(ledger)).toEqual(before);
      await expectCyclesError(ledger.release(id, { ...release, reason: 'other' }), 'IDEMPOTENCY_MISMATCH');
      await expectCyclesError(
        ledger.commit(id, { idempotencyKey: release.idempotencyKey, actual: { unit: UNIT, amount: 1 } }),
        'RESERVATION_FINALIZED',
      );
    });

    it('extend replay: identical body, extended once, counts once', async () => {
      const { ledger, clock } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      const reserved = await ledger.reserve(reserveRequest(TENANT, 100, { ttlMs: 10_000 }));
      const id = reserved.reservationId!;
      const extend = { idempotencyKey: freshKey('extend'), extendByMs: 5000 };
      const first = await ledger.extend(id, extend);
      clock.advance(1000);
      const replay = await ledger.extend(id, { ...extend });
      expect(withoutRemainingTtl(replay)).toEqual(withoutRemainingTtl(first));
      expect(replay.expiresAtMs).toBe(reserved.expiresAtMs! + 5000);
      expect((await ledger.getReservation(id)).expiresAtMs).toBe(reserved.expiresAtMs! + 5000);
      await expectCyclesError(ledger.extend(id, { ...extend, extendByMs: 6000 }), 'IDEMPOTENCY_MISMATCH');
      for (let count = 2; count <= 10; count += 1) {
        await ledger.extend(id, { idempotencyKey: freshKey('extend'), extendByMs: 1 });
      }
      await expectCyclesError(
        ledger.extend(id, { idempotencyKey: freshKey('extend'), extendByMs: 1 }),
        'MAX_EXTENSIONS_EXCEEDED',
      );
    });

    it('an extend replay still answers after the reservation was committed', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      const id = (await ledger.reserve(reserveRequest(TENANT, 100))).reservationId!;
      const extend = { idempotencyKey: freshKey('extend'), extendByMs: 5000 };
      const first = await ledger.extend(id, extend);
      await ledger.commit(id, { idempotencyKey: freshKey('commit'), actual: { unit: UNIT, amount: 10 } });
      const replay = await ledger.extend(id, { ...extend });
      expect(withoutRemainingTtl(replay)).toEqual(withoutRemainingTtl(first));
      expect(replay.remainingTtlMs ?? 0).toBe(0);
    });

    it('event replay: identical body, debited once; a new payload → 409', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      const event = {
        idempotencyKey: freshKey('event'),
        subject: subjectOf(TENANT),
        action: ACTION,
        actual: { unit: UNIT, amount: 70 },
      };
      const first = await ledger.createEvent(event);
      expect(await ledger.createEvent({ ...event })).toEqual(first);
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ spent: 70, remaining: 930 });
      await expectCyclesError(
        ledger.createEvent({ ...event, actual: { unit: UNIT, amount: 71 } }),
        'IDEMPOTENCY_MISMATCH',
      );
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ spent: 70 });
      await checkIdentity(ledger);
    });

    it('keys are scoped per endpoint: one key on reserve, decide and event does not collide', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      const key = freshKey('shared');
      const reserved = await ledger.reserve({ ...reserveRequest(TENANT, 100), idempotencyKey: key });
      const decided = await ledger.decide({
        idempotencyKey: key,
        subject: subjectOf(TENANT),
        action: ACTION,
        estimate: { unit: UNIT, amount: 5 },
      });
      expect(decided.decision).toBe('ALLOW');
      const event = await ledger.createEvent({
        idempotencyKey: key,
        subject: subjectOf(TENANT),
        action: ACTION,
        actual: { unit: UNIT, amount: 30 },
      });
      expect(event.status).toBe('APPLIED');
      const committed = await ledger.commit(reserved.reservationId!, {
        idempotencyKey: key,
        actual: { unit: UNIT, amount: 40 },
      });
      expect(committed.charged.amount).toBe(40);
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ spent: 70, reserved: 0, remaining: 930 });
    });

    it('decide and dry_run cache every outcome, DENY included', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 100);
      const decide = {
        idempotencyKey: freshKey('decide'),
        subject: subjectOf(TENANT),
        action: ACTION,
        estimate: { unit: UNIT, amount: 150 },
      };
      const denied = await ledger.decide(decide);
      expect(denied.decision).toBe('DENY');
      const dryRun = reserveRequest(TENANT, 150, { dryRun: true });
      const dryDenied = await ledger.reserve(dryRun);
      expect(dryDenied.decision).toBe('DENY');
      await ledger.fund({ scope: TENANT, unit: UNIT, funding: { operation: 'CREDIT', amount: 100 } });
      expect(await ledger.decide({ ...decide })).toEqual(denied);
      expect(await ledger.reserve({ ...dryRun })).toEqual(dryDenied);
      await expectCyclesError(
        ledger.decide({ ...decide, estimate: { unit: UNIT, amount: 1 } }),
        'IDEMPOTENCY_MISMATCH',
      );
      expect((await ledger.decide({ ...decide, idempotencyKey: freshKey('decide') })).decision).toBe('ALLOW');
    });
  });
}
