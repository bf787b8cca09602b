import { describe, expect, it } from 'vitest';
import type { Ledger } from '../ledger/types.ts';
import type { OveragePolicy, Unit } from '../protocol/enums.ts';
import type { ReserveRequest, Subject } from '../protocol/types.ts';
import {
  ACTION,
  balanceOf,
  type ConformanceOptions,
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

function decideRequest(scopePath: string, estimate: number) {
  return {
    idempotencyKey: freshKey('decide'),
    subject: subjectOf(scopePath),
    action: ACTION,
    estimate: { unit: UNIT, amount: estimate },
  };
}

/** §2.9 evaluations, §2.1 unit/scope resolution, tenancy, §1.1 validation. */
export function registerIsolationTests(options: ConformanceOptions): void {
  describe('evaluations (dry_run, decide)', () => {
    const harness = harnessFactory(options);

    it('dry_run and decide ALLOW without mutating or returning a reservation', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      await seedBudget(ledger, CHILD, 500);
      const before = await snapshotLedgers(ledger);
      const dryRun = await ledger.reserve(reserveRequest(CHILD, 400, { dryRun: true }));
      expect(dryRun.decision).toBe('ALLOW');
      expect(dryRun.affectedScopes).toEqual([TENANT, CHILD]);
      expect(dryRun.reservationId).toBeUndefined();
      expect(dryRun.expiresAtMs).toBeUndefined();
      expect(dryRun.remainingTtlMs).toBeUndefined();
      const decided = await ledger.decide(decideRequest(CHILD, 400));
      expect(decided.decision).toBe('ALLOW');
      expect(await snapshotLedgers(ledger)).toEqual(before);
      expect((await ledger.listReservations({ tenant: 'acme' })).reservations).toEqual([]);
    });

    it('budget problems come back as DENY with a reason code, never as 409', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      await seedBudget(ledger, CHILD, 500);
      const before = await snapshotLedgers(ledger);
      const dryRun = await ledger.reserve(reserveRequest(CHILD, 501, { dryRun: true }));
      expect(dryRun).toMatchObject({ decision: 'DENY', reasonCode: 'BUDGET_EXCEEDED' });
      expect(dryRun.reservationId).toBeUndefined();
      expect(await ledger.decide(decideRequest(CHILD, 501))).toMatchObject({
        decision: 'DENY',
        reasonCode: 'BUDGET_EXCEEDED',
      });
      expect(await ledger.decide(decideRequest('tenant:nobody', 1))).toMatchObject({
        decision: 'DENY',
        reasonCode: 'BUDGET_NOT_FOUND',
      });
      expect(await ledger.reserve({ ...reserveRequest('tenant:nobody', 1), dryRun: true })).toMatchObject({
        decision: 'DENY',
        reasonCode: 'BUDGET_NOT_FOUND',
      });
      await ledger.setLedgerStatus(CHILD, UNIT, 'FROZEN');
      expect(await ledger.decide(decideRequest(CHILD, 1))).toMatchObject({
        decision: 'DENY',
        reasonCode: 'BUDGET_FROZEN',
      });
      await ledger.setLedgerStatus(TENANT, UNIT, 'CLOSED');
      expect(await ledger.decide(decideRequest(TENANT, 1))).toMatchObject({
        decision: 'DENY',
        reasonCode: 'BUDGET_CLOSED',
      });
      const after = await snapshotLedgers(ledger);
      for (const [key, counters] of Object.entries(after)) {
        expect({ ...counters, status: 'ACTIVE' }).toEqual({ ...before[key], status: 'ACTIVE' });
      }
    });

    it('dry_run and decide in a unit with no ledger → 400 UNIT_MISMATCH', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000, { unit: 'CREDITS' });
      await expectCyclesError(ledger.reserve(reserveRequest(TENANT, 1, { dryRun: true })), 'UNIT_MISMATCH');
      await expectCyclesError(ledger.decide(decideRequest(TENANT, 1)), 'UNIT_MISMATCH');
    });

    it('dry_run answers ALLOW_WITH_CAPS with the leaf caps', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000, { caps: { toolDenylist: ['shell'] } });
      const dryRun = await ledger.reserve(reserveRequest(TENANT, 1, { dryRun: true }));
      expect(dryRun).toMatchObject({ decision: 'ALLOW_WITH_CAPS', caps: { toolDenylist: ['shell'] } });
      const decided = await ledger.decide(decideRequest(TENANT, 1));
      expect(decided).toMatchObject({ decision: 'ALLOW_WITH_CAPS', caps: { toolDenylist: ['shell'] } });
    });
  });

  describe('units and scopes', () => {
    const harness = harnessFactory(options);

    it('only other-unit ledgers → 400 UNIT_MISMATCH; no ledger at all → 404 NOT_FOUND', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000, { unit: 'CREDITS' });
      const before = await snapshotLedgers(ledger);
      await expectCyclesError(ledger.reserve(reserveRequest(CHILD, 1)), 'UNIT_MISMATCH');
      await expectCyclesError(ledger.reserve(reserveRequest('tenant:nobody', 1)), 'NOT_FOUND');
      const event = (scopePath: string) =>
        ledger.createEvent({
          idempotencyKey: freshKey('event'),
          subject: subjectOf(scopePath),
          action: ACTION,
          actual: { unit: UNIT, amount: 1 },
        });
      await expectCyclesError(event(TENANT), 'UNIT_MISMATCH');
      await expectCyclesError(event('tenant:nobody'), 'NOT_FOUND');
      expect(await snapshotLedgers(ledger)).toEqual(before);
    });

    it('unbudgeted levels are skipped; gaps are not filled', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, 'tenant:acme/agent:bot', 100);
      const subject: Subject = { tenant: 'acme', workspace: 'prod', agent: 'bot' };
      await expectCyclesError(ledger.reserve({ ...reserveRequest(TENANT, 40), subject }), 'NOT_FOUND');
      const evaluated = await ledger.reserve({ ...reserveRequest(TENANT, 40), subject, dryRun: true });
      expect(evaluated).toMatchObject({ decision: 'DENY', reasonCode: 'BUDGET_NOT_FOUND' });
      expect(evaluated.affectedScopes).toEqual([
        'tenant:acme',
        'tenant:acme/workspace:prod',
        'tenant:acme/workspace:prod/agent:bot',
      ]);
      const direct = await ledger.reserve(reserveRequest('tenant:acme/agent:bot', 40));
      expect(direct.decision).toBe('ALLOW');
      expect(direct.affectedScopes).toEqual(['tenant:acme', 'tenant:acme/agent:bot']);
      expect(direct.scopePath).toBe('tenant:acme/agent:bot');
      expect(await balanceOf(ledger, 'tenant:acme/agent:bot')).toMatchObject({ reserved: 40, remaining: 60 });
    });

    it('a commit in another unit → 400 UNIT_MISMATCH with no change; other-unit ledgers never move', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      await seedBudget(ledger, TENANT, 1000, { unit: 'CREDITS' });
      const held = await ledger.reserve(reserveRequest(TENANT, 100));
      const before = await snapshotLedgers(ledger);
      await expectCyclesError(
        ledger.commit(held.reservationId!, {
          idempotencyKey: freshKey('commit'),
          actual: { unit: 'CREDITS', amount: 50 },
        }),
        'UNIT_MISMATCH',
      );
      expect(await snapshotLedgers(ledger)).toEqual(before);
      expect((await ledger.getReservation(held.reservationId!)).status).toBe('ACTIVE');
      await ledger.commit(held.reservationId!, {
        idempotencyKey: freshKey('commit'),
        actual: { unit: UNIT, amount: 50 },
      });
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ spent: 50, remaining: 950 });
      expect(await balanceOf(ledger, TENANT, 'CREDITS')).toMatchObject({
        allocated: 1000,
        remaining: 1000,
        spent: 0,
        reserved: 0,
      });
    });
  });

  describe('tenancy', () => {
    const harness = harnessFactory(options);

    async function seedTenants(ledger: Ledger): Promise<string> {
      await seedBudget(ledger, TENANT, 1000);
      await seedBudget(ledger, 'tenant:other', 1000);
      const held = await ledger.reserve(reserveRequest(TENANT, 100), { tenant: 'acme' });
      return held.reservationId!;
    }

    it("another tenant's subject → 403", async () => {
      const { ledger } = await harness();
      await seedTenants(ledger);
      const before = await snapshotLedgers(ledger);
      await expectCyclesError(
        ledger.reserve(reserveRequest('tenant:other', 1), { tenant: 'acme' }),
        'FORBIDDEN',
      );
      await expectCyclesError(
        ledger.decide(decideRequest('tenant:other', 1), { tenant: 'acme' }),
        'FORBIDDEN',
      );
      await expectCyclesError(
        ledger.createEvent(
          {
            idempotencyKey: freshKey('event'),
            subject: subjectOf('tenant:other'),
            action: ACTION,
            actual: { unit: UNIT, amount: 1 },
          },
          { tenant: 'acme' },
        ),
        'FORBIDDEN',
      );
      expect(await snapshotLedgers(ledger)).toEqual(before);
    });

    it("another tenant's reservation cannot be read or settled (403) and stays untouched", async () => {
      const { ledger } = await harness();
      const id = await seedTenants(ledger);
      const before = await snapshotLedgers(ledger);
      const other = { tenant: 'other' };
      await expectCyclesError(ledger.getReservation(id, other), 'FORBIDDEN');
      await expectCyclesError(
        ledger.commit(id, { idempotencyKey: freshKey('commit'), actual: { unit: UNIT, amount: 1 } }, other),
        'FORBIDDEN',
      );
      await expectCyclesError(
        ledger.release(id, { idempotencyKey: freshKey('release') }, other),
        'FORBIDDEN',
      );
      await expectCyclesError(
        ledger.extend(id, { idempotencyKey: freshKey('extend'), extendByMs: 1000 }, other),
        'FORBIDDEN',
      );
      expect(await snapshotLedgers(ledger)).toEqual(before);
      expect((await ledger.getReservation(id, { tenant: 'acme' })).status).toBe('ACTIVE');
    });

    it("another tenant's balances and lists → 403; own lists never show other tenants", async () => {
      const { ledger } = await harness();
      await seedTenants(ledger);
      await ledger.reserve(reserveRequest('tenant:other', 5), { tenant: 'other' });
      await expectCyclesError(ledger.getBalances({ tenant: 'other' }, { tenant: 'acme' }), 'FORBIDDEN');
      await expectCyclesError(ledger.listReservations({ tenant: 'other' }, { tenant: 'acme' }), 'FORBIDDEN');
      const own = await ledger.listReservations({ tenant: 'acme' }, { tenant: 'acme' });
      expect(own.reservations).toHaveLength(1);
      expect(own.reservations[0]?.subject.tenant).toBe('acme');
    });

    it('idempotency keys never collide across tenants', async () => {
      const { ledger } = await harness();
      await seedTenants(ledger);
      const sharedKey = freshKey('shared');
      const acme = await ledger.reserve(
        { ...reserveRequest(TENANT, 10), idempotencyKey: sharedKey },
        { tenant: 'acme' },
      );
      const other = await ledger.reserve(
        { ...reserveRequest('tenant:other', 10), idempotencyKey: sharedKey },
        { tenant: 'other' },
      );
      expect(other.reservationId).toBeTruthy();
      expect(other.reservationId).not.toBe(acme.reservationId);
      expect(await balanceOf(ledger, 'tenant:other')).toMatchObject({ reserved: 10 });
    });
  });

  describe('validation', () => {
    const harness = harnessFactory(options);

    const invalidReserves: Array<[string, (base: ReserveRequest) => ReserveRequest]> = [
      ['a negative estimate', (base) => ({ ...base, estimate: { unit: UNIT, amount: -1 } })],
      ['a fractional estimate', (base) => ({ ...base, estimate: { unit: UNIT, amount: 1.5 } })],
      ['a huge estimate', (base) => ({ ...base, estimate: { unit: UNIT, amount: 1e30 } })],
      ['a NaN estimate', (base) => ({ ...base, estimate: { unit: UNIT, amount: Number.NaN } })],
      [
        'an infinite estimate',
        (base) => ({ ...base, estimate: { unit: UNIT, amount: Number.POSITIVE_INFINITY } }),
      ],
      ['ttl below 1000', (base) => ({ ...base, ttlMs: 999 })],
      ['ttl above 86,400,000', (base) => ({ ...base, ttlMs: 86_400_001 })],
      ['a fractional ttl', (base) => ({ ...base, ttlMs: 1500.5 })],
      ['a negative grace', (base) => ({ ...base, gracePeriodMs: -1 })],
      ['grace above 60,000', (base) => ({ ...base, gracePeriodMs: 60_001 })],
      ['an empty subject', (base) => ({ ...base, subject: {} })],
      ['a subject with only dimensions', (base) => ({ ...base, subject: { dimensions: { team: 'x' } } })],
      ['a space in a subject value', (base) => ({ ...base, subject: { tenant: 'ac me' } })],
      ['a slash in a subject value', (base) => ({ ...base, subject: { tenant: 'acme/app:x' } })],
      ['a colon in a subject value', (base) => ({ ...base, subject: { tenant: 'acme:x' } })],
      ['an empty subject value', (base) => ({ ...base, subject: { tenant: 'acme', app: '' } })],
      ['a subject value over 128 chars', (base) => ({ ...base, subject: { tenant: 'a'.repeat(129) } })],
      ['an unknown unit', (base) => ({ ...base, estimate: { unit: 'DOLLARS' as Unit, amount: 1 } })],
      ['an unknown overage policy', (base) => ({ ...base, overagePolicy: 'MAYBE' as OveragePolicy })],
      ['an action kind over 64 chars', (base) => ({ ...base, action: { ...ACTION, kind: 'k'.repeat(65) } })],
      [
        'an action name over 256 chars',
        (base) => ({ ...base, action: { ...ACTION, name: 'n'.repeat(257) } }),
      ],
      [
        'more than 10 action tags',
        (base) => ({
          ...base,
          action: { ...ACTION, tags: Array.from({ length: 11 }, (_, index) => `t${index}`) },
        }),
      ],
      [
        'more than 16 dimensions',
        (base) => ({
          ...base,
          subject: {
            tenant: 'acme',
            dimensions: Object.fromEntries(Array.from({ length: 17 }, (_, index) => [`d${index}`, 'v'])),
          },
        }),
      ],
      ['an empty idempotency key', (base) => ({ ...base, idempotencyKey: '' })],
      ['an idempotency key over 256 chars', (base) => ({ ...base, idempotencyKey: 'k'.repeat(257) })],
    ];

    it.each(invalidReserves)(
      'reserve with %s → 400 INVALID_REQUEST, state unchanged',
      async (_label, mutate) => {
        const { ledger } = await harness();
        await seedBudget(ledger, TENANT, 1000);
        const before = await snapshotLedgers(ledger);
        await expectCyclesError(ledger.reserve(mutate(reserveRequest(TENANT, 10))), 'INVALID_REQUEST');
        await expectCyclesError(
          ledger.reserve({ ...mutate(reserveRequest(TENANT, 10)), dryRun: true }),
          'INVALID_REQUEST',
        );
        expect(await snapshotLedgers(ledger)).toEqual(before);
        expect((await ledger.listReservations({ tenant: 'acme' })).reservations).toEqual([]);
      },
    );

    it('commit, release, extend and events validate amounts, durations and ids', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      const id = (await ledger.reserve(reserveRequest(TENANT, 100))).reservationId!;
      const before = await snapshotLedgers(ledger);
      const commit = (reservationId: string, amount: number) =>
        ledger.commit(reservationId, { idempotencyKey: freshKey('commit'), actual: { unit: UNIT, amount } });
      await expectCyclesError(commit(id, -5), 'INVALID_REQUEST');
      await expectCyclesError(commit(id, 2.5), 'INVALID_REQUEST');
      await expectCyclesError(commit(id, 1e30), 'INVALID_REQUEST');
      await expectCyclesError(commit('', 5), 'INVALID_REQUEST');
      await expectCyclesError(commit('r'.repeat(129), 5), 'INVALID_REQUEST');
      await expectCyclesError(
        ledger.commit(id, { idempotencyKey: '', actual: { unit: UNIT, amount: 5 } }),
        'INVALID_REQUEST',
      );
      await expectCyclesError(ledger.release('', { idempotencyKey: freshKey('release') }), 'INVALID_REQUEST');
      await expectCyclesError(
        ledger.release(id, { idempotencyKey: freshKey('release'), reason: 'x'.repeat(257) }),
        'INVALID_REQUEST',
      );
      for (const extendByMs of [0, -1000, 86_400_001, 10.5]) {
        await expectCyclesError(
          ledger.extend(id, { idempotencyKey: freshKey('extend'), extendByMs }),
          'INVALID_REQUEST',
        );
      }
      await expectCyclesError(
        ledger.createEvent({
          idempotencyKey: freshKey('event'),
          subject: subjectOf(TENANT),
          action: ACTION,
          actual: { unit: UNIT, amount: -1 },
        }),
        'INVALID_REQUEST',
      );
      await expectCyclesError(
        ledger.createEvent({
          idempotencyKey: freshKey('event'),
          subject: { dimensions: { a: 'b' } },
          action: ACTION,
          actual: { unit: UNIT, amount: 1 },
        }),
        'INVALID_REQUEST',
      );
      await expectCyclesError(
        ledger.decide({ ...decideRequest(TENANT, 1), estimate: { unit: UNIT, amount: -1 } }),
        'INVALID_REQUEST',
      );
      expect(await snapshotLedgers(ledger)).toEqual(before);
      expect((await ledger.getReservation(id)).status).toBe('ACTIVE');
    });
  });
}
