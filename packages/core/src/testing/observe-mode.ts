import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ACTION,
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
const LEAF = 'tenant:acme/app:chat';

/**
 * Observe mode (protocol extensions v0.1.26, PROTOCOL.md §8.5): evaluated as usual, nothing held or
 * changed, answered 200 like a dry run with a decision and `denyDetail` on DENY; per request, or by the
 * tenant's default when the request does not choose.
 */
export function registerObserveModeTests(options: ConformanceOptions): void {
  describe('observe mode (v0.1.26)', () => {
    const harness = harnessFactory(options);

    it('an observed reserve that fits answers ALLOW with no reservation and holds nothing', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      await seedBudget(ledger, LEAF, 500);
      const before = await snapshotLedgers(ledger);
      const response = await ledger.reserve(reserveRequest(LEAF, 300, { observeMode: true }));
      expect(response.decision).toBe('ALLOW');
      expect(response.affectedScopes).toEqual([TENANT, LEAF]);
      expect(response.reservationId).toBeUndefined();
      expect(response.expiresAtMs).toBeUndefined();
      expect(response.remainingTtlMs).toBeUndefined();
      expect(await snapshotLedgers(ledger)).toEqual(before);
      const listed = await ledger.listReservations({ tenant: 'acme' }, { tenant: 'acme' });
      expect(listed.reservations).toEqual([]);
    });

    it('an observed reserve over budget is a DENY answer (never a 409) with its deny detail', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      await seedBudget(ledger, LEAF, 200);
      const before = await snapshotLedgers(ledger);
      const response = await ledger.reserve(reserveRequest(LEAF, 300, { observeMode: true, dryRun: false }));
      expect(response).toMatchObject({
        decision: 'DENY',
        reasonCode: 'BUDGET_EXCEEDED',
        affectedScopes: [TENANT, LEAF],
        denyDetail: { reasonCode: 'BUDGET_EXCEEDED', blockedByScope: LEAF, budgetRemaining: 200 },
      });
      expect(response.denyDetail?.suggestedFix).toContain(LEAF);
      expect(response.reservationId).toBeUndefined();
      expect(await snapshotLedgers(ledger)).toEqual(before);
      // The same request enforced is refused, and its error names the same scope.
      const refused = await expectCyclesError(ledger.reserve(reserveRequest(LEAF, 300)), 'BUDGET_EXCEEDED');
      expect(refused.details).toMatchObject({ scope: LEAF, remaining: 200 });
    });

    it("the tenant's default observes reserves that do not choose; a request choosing ENFORCE holds", async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      await ledger.setTenant('acme', { observeMode: true });
      const observed = await ledger.reserve(reserveRequest(TENANT, 100));
      expect(observed.decision).toBe('ALLOW');
      expect(observed.reservationId).toBeUndefined();
      const denied = await ledger.reserve(reserveRequest(TENANT, 5000));
      expect(denied).toMatchObject({ decision: 'DENY', reasonCode: 'BUDGET_EXCEEDED' });
      expect((await ledger.getLedger(TENANT, UNIT))?.reserved).toBe(0);
      const enforced = await ledger.reserve(reserveRequest(TENANT, 100, { observeMode: false }));
      expect(enforced.reservationId).toBeDefined();
      expect((await ledger.getLedger(TENANT, UNIT))?.reserved).toBe(100);
      await ledger.setTenant('acme', {});
      const live = await ledger.reserve(reserveRequest(TENANT, 100));
      expect(live.reservationId).toBeDefined();
    });

    it('decide and dry-run DENYs carry deny detail; a missing budget names the subject', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 50);
      const decided = await ledger.decide({
        idempotencyKey: freshKey('decide'),
        subject: subjectOf(TENANT),
        action: ACTION,
        estimate: { unit: UNIT, amount: 80 },
      });
      expect(decided.denyDetail).toMatchObject({
        reasonCode: 'BUDGET_EXCEEDED',
        blockedByScope: TENANT,
        budgetRemaining: 50,
      });
      const missing = await ledger.reserve(reserveRequest('tenant:nobody', 1, { observeMode: true }));
      expect(missing.denyDetail).toMatchObject({
        reasonCode: 'BUDGET_NOT_FOUND',
        blockedByScope: 'tenant:nobody',
      });
      const allowed = await ledger.reserve(reserveRequest(TENANT, 10, { dryRun: true }));
      expect(allowed.denyDetail).toBeUndefined();
    });

    it('observe mode is part of the idempotency payload; a same-key replay answers the same', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      const request = reserveRequest(TENANT, 100, { observeMode: true });
      const first = await ledger.reserve(request);
      expect(await ledger.reserve({ ...request })).toEqual(first);
      await expectCyclesError(ledger.reserve({ ...request, observeMode: false }), 'IDEMPOTENCY_MISMATCH');
    });

    it('action policy keys are accepted, change no decision, and are validated as a closed object', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, TENANT, 1000);
      const action = { ...ACTION, policyKeys: { host: 'api.example.com', custom: { team: 'search' } } };
      const response = await ledger.reserve(reserveRequest(TENANT, 100, { action }));
      expect(response.reservationId).toBeDefined();
      const bad = { ...ACTION, policyKeys: { hostname: 'x' } } as never;
      const error = await expectCyclesError(
        ledger.reserve(reserveRequest(TENANT, 1, { action: bad })),
        'INVALID_REQUEST',
      );
      expect(error.details).toMatchObject({ field: 'action.policyKeys.hostname' });
      const tooMany = {
        ...ACTION,
        policyKeys: { custom: Object.fromEntries([...Array(9).keys()].map((i) => [`k${i}`, 'v'])) },
      };
      await expectCyclesError(
        ledger.reserve(reserveRequest(TENANT, 1, { action: tooMany })),
        'INVALID_REQUEST',
      );
    });

    it('property: an observed reserve never changes any balance and decides as decide does', {
      timeout: 120_000,
    }, async () => {
      const step = fc.record({
        live: fc.option(fc.integer({ min: 0, max: 400 }), { nil: undefined }),
        observed: fc.integer({ min: 0, max: 1500 }),
        leaf: fc.boolean(),
        tenantDefault: fc.boolean(),
        dryRun: fc.option(fc.boolean(), { nil: undefined }),
      });
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: 1200 }),
          fc.integer({ min: 0, max: 800 }),
          fc.array(step, { minLength: 1, maxLength: 8 }),
          async (rootAllocated, leafAllocated, steps) => {
            const { ledger } = await harness();
            try {
              await seedBudget(ledger, TENANT, rootAllocated);
              await seedBudget(ledger, LEAF, leafAllocated);
              for (const { live, observed, leaf, tenantDefault, dryRun } of steps) {
                const scope = leaf ? LEAF : TENANT;
                // Live traffic moves the balances between observations (refusals are fine).
                if (live !== undefined) await ledger.reserve(reserveRequest(scope, live)).catch(() => {});
                await ledger.setTenant('acme', { observeMode: tenantDefault });
                const before = await snapshotLedgers(ledger);
                const request = reserveRequest(scope, observed, {
                  ...(tenantDefault ? {} : { observeMode: true }),
                  ...(dryRun === undefined ? {} : { dryRun }),
                });
                const response = await ledger.reserve(request);
                expect(await snapshotLedgers(ledger)).toEqual(before);
                expect(response.reservationId).toBeUndefined();
                expect(response.expiresAtMs).toBeUndefined();
                expect(response.affectedScopes.length).toBeGreaterThan(0);
                const decided = await ledger.decide({
                  idempotencyKey: freshKey('decide'),
                  subject: request.subject,
                  action: ACTION,
                  estimate: request.estimate,
                });
                expect(response.decision).toBe(decided.decision);
                expect(response.reasonCode).toBe(decided.reasonCode);
                if (response.decision === 'DENY') expect(response.denyDetail).toEqual(decided.denyDetail);
              }
            } finally {
              await ledger.close?.();
            }
          },
        ),
        { numRuns: options.propertyRuns ?? 50 },
      );
    });
  });
}
