import { describe, expect, it } from 'vitest';
import type { Ledger } from '../ledger/types.ts';
import type { ReserveResponse } from '../protocol/types.ts';
import { expectCyclesError, freshKey, reserveRequest, seedBudget, UNIT } from './fixtures.ts';
import { harnessFactory } from './harness.ts';

const REPLAY_WINDOW_MS = 60_000;

/**
 * Per-tenant capacity: a tenant's own bound on reservations (`maxReservations`) is never reached by
 * another tenant's traffic; at its bound, the tenant's own oldest finished reservations past the replay
 * window go first, and otherwise its own new reserves are refused with LIMIT_EXCEEDED.
 */
export function registerTenantBoundTests(options: Parameters<typeof harnessFactory>[0]): void {
  describe('per-tenant reservation bounds', () => {
    const harness = harnessFactory(options);

    async function settle(ledger: Ledger, hold: ReserveResponse, amount: number): Promise<void> {
      await ledger.commit(hold.reservationId!, {
        idempotencyKey: freshKey('commit'),
        actual: { unit: UNIT, amount },
      });
    }

    it("a noisy tenant's finished reservations never push out another tenant's replay", async () => {
      const { ledger, clock } = await harness();
      await ledger.setTenant('beta', { maxReservations: 40 });
      await seedBudget(ledger, 'tenant:acme', 10_000);
      await seedBudget(ledger, 'tenant:beta', 10_000);
      const acme = await ledger.reserve(reserveRequest('tenant:acme', 100));
      const commit = { idempotencyKey: freshKey('commit'), actual: { unit: UNIT, amount: 60 } };
      const first = await ledger.commit(acme.reservationId!, commit);
      // beta ends five times its bound, each batch past the window by the time it needs room (acme's
      // reservation stays inside its 1 h retention throughout).
      for (let i = 0; i < 200; i++) {
        await settle(ledger, await ledger.reserve(reserveRequest('tenant:beta', 1)), 1);
        if (i % 40 === 39) clock.advance(REPLAY_WINDOW_MS + 1);
      }
      expect(await ledger.commit(acme.reservationId!, commit)).toEqual(first);
      expect((await ledger.getReservation(acme.reservationId!)).status).toBe('COMMITTED');
      expect(
        (await ledger.listReservations({ tenant: 'beta', limit: 200 })).reservations.length,
      ).toBeLessThanOrEqual(40);
    });

    it('at its bound inside the replay window, only the tenant itself is refused (429), then room comes', async () => {
      const { ledger, clock } = await harness();
      await ledger.setTenant('beta', { maxReservations: 5 });
      await seedBudget(ledger, 'tenant:acme', 10_000);
      await seedBudget(ledger, 'tenant:beta', 10_000);
      const ended: ReserveResponse[] = [];
      for (let i = 0; i < 5; i++) {
        const hold = await ledger.reserve(reserveRequest('tenant:beta', 10));
        await settle(ledger, hold, 4);
        ended.push(hold);
      }
      const refused = await expectCyclesError(
        ledger.reserve(reserveRequest('tenant:beta', 10)),
        'LIMIT_EXCEEDED',
      );
      expect(refused.retryAfterMs ?? 1).toBeGreaterThan(0);
      // Nothing was held by the refused reserve, and every finished one still replays.
      expect((await ledger.getLedger('tenant:beta', UNIT))?.reserved).toBe(0);
      for (const hold of ended) {
        expect((await ledger.getReservation(hold.reservationId!)).status).toBe('COMMITTED');
      }
      // Another tenant is not affected.
      await settle(ledger, await ledger.reserve(reserveRequest('tenant:acme', 10)), 10);
      clock.advance(REPLAY_WINDOW_MS + 1);
      const next = await ledger.reserve(reserveRequest('tenant:beta', 10));
      expect(next.decision).toBe('ALLOW');
      expect(await ledger.getLedger('tenant:beta', UNIT)).toMatchObject({ spent: 20, reserved: 10 });
    });

    it('live reservations count against the bound: a flood of zero holds cannot grow without limit', async () => {
      const { ledger } = await harness();
      await ledger.setTenant('beta', { maxReservations: 8 });
      await seedBudget(ledger, 'tenant:beta', 10_000);
      for (let i = 0; i < 8; i++) await ledger.reserve(reserveRequest('tenant:beta', 0));
      await expectCyclesError(ledger.reserve(reserveRequest('tenant:beta', 0)), 'LIMIT_EXCEEDED');
    });
  });
}
