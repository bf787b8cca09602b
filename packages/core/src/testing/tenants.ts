import { describe, expect, it } from 'vitest';
import type { Ledger } from '../ledger/types.ts';
import type { OveragePolicy } from '../protocol/enums.ts';
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

/** Reserves 100 (with `policy`, if any) and commits 150 on a 1000 budget; returns the charge or the error code. */
async function overrun(ledger: Ledger, policy?: OveragePolicy): Promise<number | string> {
  const reserved = await ledger.reserve(reserveRequest(TENANT, 100, { overagePolicy: policy }));
  try {
    const committed = await ledger.commit(reserved.reservationId!, {
      idempotencyKey: freshKey('commit'),
      actual: { unit: UNIT, amount: 150 },
    });
    return committed.charged.amount;
  } catch (error) {
    return (error as { code: string }).code;
  }
}

/** Tenant settings the runtime reads (§3): TTL defaults and caps, overage policy precedence, closed tenants. */
export function registerTenantTests(options: ConformanceOptions): void {
  describe('tenant settings', () => {
    const harness = harnessFactory(options);

    it('TTL defaults to 60 s and grace to 5 s', async () => {
      const { ledger, clock } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      const reserved = await ledger.reserve(reserveRequest(TENANT, 10));
      expect(reserved.expiresAtMs).toBe(clock.now() + 60_000);
      const other = await ledger.reserve(reserveRequest(TENANT, 10));
      clock.advance(65_000);
      await ledger.commit(reserved.reservationId!, {
        idempotencyKey: freshKey('commit'),
        actual: { unit: UNIT, amount: 1 },
      });
      clock.advance(1);
      await expectCyclesError(
        ledger.commit(other.reservationId!, {
          idempotencyKey: freshKey('commit'),
          actual: { unit: UNIT, amount: 1 },
        }),
        'RESERVATION_EXPIRED',
      );
    });

    it("the tenant's TTL default applies and longer TTLs are capped at its maximum", async () => {
      const { ledger, clock } = await harness();
      await ledger.setTenant('acme', { defaultReservationTtlMs: 20_000, maxReservationTtlMs: 30_000 });
      await seedBudget(ledger, TENANT, 1000);
      const byDefault = await ledger.reserve(reserveRequest(TENANT, 10));
      expect(byDefault.expiresAtMs).toBe(clock.now() + 20_000);
      const capped = await ledger.reserve(reserveRequest(TENANT, 10, { ttlMs: 600_000 }));
      expect(capped.expiresAtMs).toBe(clock.now() + 30_000);
    });

    it('overage policy precedence: request, then ledger, then tenant, then ALLOW_IF_AVAILABLE', async () => {
      const fallback = await harness();
      await seedBudget(fallback.ledger, TENANT, 1000);
      expect(await overrun(fallback.ledger)).toBe(150);

      const tenantDefault = await harness();
      await tenantDefault.ledger.setTenant('acme', { defaultCommitOveragePolicy: 'REJECT' });
      await seedBudget(tenantDefault.ledger, TENANT, 1000);
      expect(await overrun(tenantDefault.ledger)).toBe('BUDGET_EXCEEDED');
      expect(await overrun(tenantDefault.ledger, 'ALLOW_IF_AVAILABLE')).toBe(150);

      const ledgerPolicy = await harness();
      await ledgerPolicy.ledger.setTenant('acme', { defaultCommitOveragePolicy: 'ALLOW_IF_AVAILABLE' });
      await seedBudget(ledgerPolicy.ledger, TENANT, 1000, { commitOveragePolicy: 'REJECT' });
      expect(await overrun(ledgerPolicy.ledger)).toBe('BUDGET_EXCEEDED');
      expect(await overrun(ledgerPolicy.ledger, 'ALLOW_WITH_OVERDRAFT')).toBe(150);
    });

    it('a CLOSED tenant: 409 TENANT_CLOSED on writes, DENY on evaluations, replays and reads still work (401 once a server revoked its keys)', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      const request = reserveRequest(TENANT, 100);
      const first = await ledger.reserve(request);
      const id = first.reservationId!;
      const settled = (await ledger.reserve(reserveRequest(TENANT, 50))).reservationId!;
      const commit = { idempotencyKey: freshKey('commit'), actual: { unit: UNIT, amount: 20 } };
      const committed = await ledger.commit(settled, commit);
      const event = {
        idempotencyKey: freshKey('event'),
        subject: subjectOf(TENANT),
        action: ACTION,
        actual: { unit: UNIT, amount: 5 },
      };
      const applied = await ledger.createEvent(event);
      await ledger.setTenant('acme', { status: 'CLOSED' });
      const before = await snapshotLedgers(ledger);
      // A server's close also revoked the tenant's keys: every call for it answers 401 (Rule 1).
      const cascades = options.cascadesTenantClose === true;
      const closed = cascades ? 'UNAUTHORIZED' : 'TENANT_CLOSED';
      await expectCyclesError(ledger.reserve(reserveRequest(TENANT, 1)), closed);
      await expectCyclesError(
        ledger.commit(id, { idempotencyKey: freshKey('commit'), actual: { unit: UNIT, amount: 1 } }),
        closed,
      );
      await expectCyclesError(ledger.release(id, { idempotencyKey: freshKey('release') }), closed);
      await expectCyclesError(
        ledger.extend(id, { idempotencyKey: freshKey('extend'), extendByMs: 1000 }),
        closed,
      );
      await expectCyclesError(
        ledger.createEvent({
          idempotencyKey: freshKey('event'),
          subject: subjectOf(TENANT),
          action: ACTION,
          actual: { unit: UNIT, amount: 1 },
        }),
        closed,
      );
      const decide = () =>
        ledger.decide({
          idempotencyKey: freshKey('decide'),
          subject: subjectOf(TENANT),
          action: ACTION,
          estimate: { unit: UNIT, amount: 1 },
        });
      const dryRun = () => ledger.reserve(reserveRequest(TENANT, 1, { dryRun: true }));
      if (cascades) {
        await expectCyclesError(decide(), 'UNAUTHORIZED');
        await expectCyclesError(dryRun(), 'UNAUTHORIZED');
        await expectCyclesError(ledger.reserve({ ...request }), 'UNAUTHORIZED');
        await expectCyclesError(ledger.getBalances({ tenant: 'acme' }), 'UNAUTHORIZED');
      } else {
        expect(await decide()).toMatchObject({ decision: 'DENY', reasonCode: 'TENANT_CLOSED' });
        expect(await dryRun()).toMatchObject({ decision: 'DENY', reasonCode: 'TENANT_CLOSED' });
        const replay = await ledger.reserve({ ...request });
        expect(replay.reservationId).toBe(id);
        expect(await ledger.commit(settled, { ...commit })).toEqual(committed);
        expect(await ledger.createEvent({ ...event })).toEqual(applied);
        expect((await ledger.getBalances({ tenant: 'acme' })).balances).toHaveLength(1);
        // A bare ledger keeps the live hold, unsettleable (a server's close released it: Rule 1).
        expect((await ledger.getReservation(id)).status).toBe('ACTIVE');
      }
      expect(await snapshotLedgers(ledger)).toEqual(before);
      expect(await balanceOf(ledger, TENANT)).toMatchObject({ reserved: cascades ? 0 : 100 });
    });
  });
}
