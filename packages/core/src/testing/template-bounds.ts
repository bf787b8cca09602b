import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Ledger } from '../ledger/types.ts';
import type { LedgerState } from '../protocol/types.ts';
import {
  ACTION,
  type ConformanceOptions,
  checkIdentity,
  cyclesErrorOf,
  expectCyclesError,
  freshKey,
  reserveRequest,
  snapshotLedgers,
  UNIT,
} from './fixtures.ts';
import { harnessFactory } from './harness.ts';

const MINUTE = 60_000;
const DAY = 86_400_000;
const DAILY = { period: 'day' } as const;

/**
 * Extension: bounds on what templates create. A flood of new subjects is refused with INVALID_REQUEST
 * (naming the bound) once a template, a tenant or the ledger holds its most template ledgers; nothing is
 * evicted inside a live window, and a ledger whose window is over (holding and owing nothing) is dropped.
 */
export function registerTemplateBoundTests(options: ConformanceOptions): void {
  describe('extension: template bounds', () => {
    const harness = harnessFactory(options);

    it("a template's maxLedgers refuses a flood of new tenants, creating nothing past it", async () => {
      const { ledger } = await harness();
      await ledger.addTemplate({ pattern: 'tenant:*', unit: UNIT, allocated: 100, maxLedgers: 5 });
      const outcomes = [];
      for (let i = 0; i < 40; i++) {
        outcomes.push(await cyclesErrorOf(ledger.reserve(reserveRequest(`tenant:flood${i}`, 10))));
      }
      expect(outcomes.slice(0, 5)).toEqual([undefined, undefined, undefined, undefined, undefined]);
      for (const error of outcomes.slice(5)) {
        expect(error).toMatchObject({
          code: 'INVALID_REQUEST',
          details: { bound: 'template.maxLedgers', limit: 5, template: 'tenant:*' },
        });
        expect(error?.message).toContain('maxLedgers');
      }
      expect((await ledger.listLedgers()).map((state) => state.scope).sort()).toEqual(
        [0, 1, 2, 3, 4].map((i) => `tenant:flood${i}`),
      );
      const counts = await ledger.templateLedgerCounts();
      expect(counts.total).toBe(5);
      expect(Object.values(counts.byTenant)).toEqual([1, 1, 1, 1, 1]);
      // Decide and events are bounded the same way; a known scope still works.
      await expectCyclesError(ledger.decide(reserveRequest('tenant:flood99', 1)), 'INVALID_REQUEST');
      await ledger.reserve(reserveRequest('tenant:flood0', 10));
      // An event records spend that already happened (e.g. a late commit's fallback after its ledger's
      // window ended): a bound never refuses it; its ledger is counted.
      await ledger.createEvent({
        idempotencyKey: freshKey('event'),
        subject: { tenant: 'late' },
        action: ACTION,
        actual: { unit: UNIT, amount: 30 },
      });
      expect(await ledger.getLedger('tenant:late', UNIT)).toMatchObject({ spent: 30, remaining: 70 });
      expect((await ledger.templateLedgerCounts()).total).toBe(6);
      await expectCyclesError(ledger.reserve(reserveRequest('tenant:flood98', 1)), 'INVALID_REQUEST');
      await checkIdentity(ledger);
    });

    it("a tenant's bound refuses its own new sub-scopes, all or none, and no other tenant's", async () => {
      const { ledger } = await harness();
      await ledger.addTemplate({ pattern: 'tenant:*', unit: UNIT, allocated: 1000 });
      await ledger.addTemplate({ pattern: 'tenant:*/app:*', unit: UNIT, allocated: 100 });
      await ledger.setTenant('acme', { maxTemplateLedgers: 3 });
      await ledger.reserve(reserveRequest('tenant:acme/app:a1', 10));
      await ledger.reserve(reserveRequest('tenant:acme/app:a2', 10));
      const before = await snapshotLedgers(ledger);
      const error = await cyclesErrorOf(ledger.reserve(reserveRequest('tenant:acme/app:a3', 10)));
      expect(error).toMatchObject({
        code: 'INVALID_REQUEST',
        details: {
          bound: 'maxTemplateLedgersPerTenant',
          limit: 3,
          tenant: 'acme',
          scope: 'tenant:acme/app:a3',
        },
      });
      expect(await snapshotLedgers(ledger)).toEqual(before);
      // Another tenant has the default bound: it creates both of its levels at once.
      for (let i = 0; i < 6; i++) await ledger.reserve(reserveRequest(`tenant:beta/app:b${i}`, 10));
      expect((await ledger.templateLedgerCounts()).byTenant).toEqual({ acme: 3, beta: 7 });
      // Raising the tenant's bound lets it grow again.
      await ledger.setTenant('acme', { maxTemplateLedgers: 4 });
      await ledger.reserve(reserveRequest('tenant:acme/app:a3', 10));
      await checkIdentity(ledger);
    });

    it('a ledger whose window is over is dropped to make room; one with a live hold never is', async () => {
      const { ledger, clock } = await harness();
      clock.set(Date.UTC(2026, 0, 1, 23, 30));
      await ledger.addTemplate({
        pattern: 'tenant:*',
        unit: UNIT,
        allocated: 100,
        window: DAILY,
        maxLedgers: 2,
      });
      const held = await ledger.reserve(reserveRequest('tenant:held', 60, { ttlMs: 3_600_000 }));
      const spent = await ledger.reserve(reserveRequest('tenant:spent', 70));
      await ledger.commit(spent.reservationId!, {
        idempotencyKey: freshKey('commit'),
        actual: { unit: UNIT, amount: 70 },
      });
      await expectCyclesError(ledger.reserve(reserveRequest('tenant:third', 10)), 'INVALID_REQUEST');
      // Inside the window nothing is dropped: tenant:spent keeps what it spent.
      expect(await ledger.getLedger('tenant:spent', UNIT)).toMatchObject({ spent: 70, remaining: 30 });

      clock.set(Date.UTC(2026, 0, 2, 0, 10));
      await ledger.sweepExpired();
      await ledger.reserve(reserveRequest('tenant:third', 10));
      expect(await ledger.getLedger('tenant:spent', UNIT)).toBeUndefined();
      // The held ledger stays, still counted, with its hold; committing it records the charge.
      expect(await ledger.getLedger('tenant:held', UNIT)).toMatchObject({ reserved: 60 });
      await expectCyclesError(ledger.reserve(reserveRequest('tenant:fourth', 10)), 'INVALID_REQUEST');
      await ledger.commit(held.reservationId!, {
        idempotencyKey: freshKey('commit'),
        actual: { unit: UNIT, amount: 55 },
      });
      expect(await ledger.getLedger('tenant:held', UNIT)).toMatchObject({ reserved: 0, spent: 55 });
      expect((await ledger.templateLedgerCounts()).total).toBe(2);
      await checkIdentity(ledger);
    });

    it('a windowless template ledger is never dropped; an admin change makes a ledger provisioned', async () => {
      const { ledger, clock } = await harness();
      await ledger.addTemplate({ pattern: 'tenant:*', unit: UNIT, allocated: 100, maxLedgers: 2 });
      await ledger.addTemplate({ pattern: 'tenant:*/app:*', unit: UNIT, allocated: 50, window: DAILY });
      await ledger.reserve(reserveRequest('tenant:one', 10));
      await ledger.reserve(reserveRequest('tenant:two/app:x', 10));
      // Freezing a template ledger adopts it: a window end must not undo the freeze.
      await ledger.setLedgerStatus('tenant:two/app:x', UNIT, 'FROZEN');
      expect((await ledger.templateLedgerCounts()).byTenant).toEqual({ one: 1, two: 1 });
      clock.advance(3 * DAY);
      await ledger.sweepExpired();
      await expectCyclesError(ledger.reserve(reserveRequest('tenant:three', 10)), 'INVALID_REQUEST');
      expect(await ledger.getLedger('tenant:one', UNIT)).toMatchObject({ allocated: 100 });
      expect(await ledger.getLedger('tenant:two/app:x', UNIT)).toMatchObject({ status: 'FROZEN' });
      // An adopted ledger frees its slot.
      await ledger.setLedgerStatus('tenant:two', UNIT, 'FROZEN');
      await ledger.reserve(reserveRequest('tenant:three', 10));
      expect((await ledger.templateLedgerCounts()).byTenant).toEqual({ one: 1, three: 1 });
      await checkIdentity(ledger);
    });

    it('a funded template ledger keeps its credit past its window end (funding adopts it)', async () => {
      const { ledger, clock } = await harness();
      clock.set(Date.UTC(2026, 0, 1, 12));
      await ledger.addTemplate({ pattern: 'tenant:*', unit: UNIT, allocated: 100, window: DAILY });
      await ledger.reserve(reserveRequest('tenant:funded', 10, { dryRun: true }));
      await ledger.reserve(reserveRequest('tenant:plain', 10, { dryRun: true }));
      await ledger.fund({ scope: 'tenant:funded', unit: UNIT, funding: { operation: 'CREDIT', amount: 50 } });
      expect((await ledger.templateLedgerCounts()).byTenant).toEqual({ plain: 1 });
      clock.advance(2 * DAY);
      await ledger.sweepExpired();
      expect(await ledger.getLedger('tenant:funded', UNIT)).toMatchObject({ allocated: 150, remaining: 150 });
      expect(await ledger.getLedger('tenant:plain', UNIT)).toBeUndefined();
      expect(await ledger.templateLedgerCounts()).toMatchObject({ total: 0, byTenant: {} });
    });

    it('random floods never pass a bound, drop a held ledger or forget spend inside a live window', async () => {
      const step = fc.oneof(
        fc.record({
          kind: fc.constant('reserve' as const),
          tenant: fc.integer({ min: 0, max: 5 }),
          app: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
          amount: fc.integer({ min: 1, max: 400 }),
        }),
        fc.record({
          kind: fc.constant('settle' as const),
          pick: fc.nat(),
          commit: fc.boolean(),
          share: fc.nat(100),
        }),
        fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 40 * MINUTE }) }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), async (steps) => {
          const { ledger, clock } = await harness();
          clock.set(Date.UTC(2026, 0, 1, 20, 50));
          const hourly = { period: 'hour' } as const;
          await ledger.addTemplate({
            pattern: 'tenant:*',
            unit: UNIT,
            allocated: 1000,
            window: hourly,
            maxLedgers: 4,
          });
          await ledger.addTemplate({ pattern: 'tenant:*/app:*', unit: UNIT, allocated: 300, window: hourly });
          await ledger.setTenant('t0', { maxTemplateLedgers: 3 });
          await ledger.setTenant('t1', { maxTemplateLedgers: 3 });
          const holds: Array<{ id: string; scopes: string[]; amount: number; deadline: number }> = [];
          for (const next of steps) {
            const before = await statesOf(ledger);
            if (next.kind === 'reserve') {
              const scope = `tenant:t${next.tenant}${next.app === undefined ? '' : `/app:a${next.app}`}`;
              const request = reserveRequest(scope, next.amount, { ttlMs: 20 * MINUTE });
              let response: Awaited<ReturnType<Ledger['reserve']>> | undefined;
              const error = await cyclesErrorOf(
                ledger.reserve(request).then((answer) => {
                  response = answer;
                }),
              );
              if (response !== undefined) {
                holds.push({
                  id: response.reservationId!,
                  scopes: response.affectedScopes,
                  amount: response.reserved!.amount,
                  deadline: clock.now() + 20 * MINUTE + 5000,
                });
              } else expect(['BUDGET_EXCEEDED', 'INVALID_REQUEST']).toContain(error?.code);
            } else if (next.kind === 'settle' && holds.length > 0) {
              const [hold] = holds.splice(next.pick % holds.length, 1);
              const settled = next.commit
                ? ledger.commit(hold!.id, {
                    idempotencyKey: freshKey('commit'),
                    actual: { unit: UNIT, amount: Math.floor((hold!.amount * next.share) / 100) },
                  })
                : ledger.release(hold!.id, { idempotencyKey: freshKey('release') });
              await settled;
            } else if (next.kind === 'advance') {
              clock.advance(next.ms);
              await ledger.sweepExpired();
              for (let i = holds.length - 1; i >= 0; i--)
                if (holds[i]!.deadline < clock.now()) holds.splice(i, 1);
            }
            const after = await statesOf(ledger);
            const now = clock.now();
            const counts = await ledger.templateLedgerCounts();
            const perTenant: Record<string, number> = {};
            for (const scope of after.keys()) {
              const tenant = scope.slice('tenant:'.length).split('/')[0]!;
              perTenant[tenant] = (perTenant[tenant] ?? 0) + 1;
            }
            expect(counts.byTenant).toEqual(perTenant);
            expect(counts.total).toBe(after.size);
            expect([...after.keys()].filter((scope) => !scope.includes('/')).length).toBeLessThanOrEqual(4);
            expect(perTenant.t0 ?? 0).toBeLessThanOrEqual(3);
            expect(perTenant.t1 ?? 0).toBeLessThanOrEqual(3);
            for (const [scope, state] of before) {
              const kept = after.get(scope);
              // Only a ledger whose window is over may go; inside a live window spend only grows.
              if (kept === undefined) expect(state.periodEndMs).toBeLessThanOrEqual(now);
              else if (now < state.periodEndMs!) expect(kept.spent).toBeGreaterThanOrEqual(state.spent);
            }
            const reserved = new Map<string, number>();
            for (const hold of holds) {
              for (const scope of hold.scopes) reserved.set(scope, (reserved.get(scope) ?? 0) + hold.amount);
            }
            for (const [scope, state] of after) expect(state.reserved).toBe(reserved.get(scope) ?? 0);
            for (const scope of reserved.keys()) expect(after.has(scope)).toBe(true);
          }
        }),
        { numRuns: options.propertyRuns ?? 50 },
      );
    });
  });
}

async function statesOf(ledger: Ledger): Promise<Map<string, LedgerState>> {
  return new Map((await ledger.listLedgers()).map((state) => [state.scope, state]));
}
