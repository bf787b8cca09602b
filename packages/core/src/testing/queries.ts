import { describe, expect, it } from 'vitest';
import type { Ledger } from '../ledger/types.ts';
import type { BalancesQuery, ListReservationsQuery, ReservationSummary } from '../protocol/types.ts';
import {
  type ConformanceOptions,
  expectCyclesError,
  freshKey,
  reserveRequest,
  seedBudget,
  UNIT,
} from './fixtures.ts';
import { harnessFactory } from './harness.ts';

/** Follows `nextCursor` to the end and returns every row of every page. */
async function allReservationPages(
  ledger: Ledger,
  query: ListReservationsQuery,
): Promise<{ rows: ReservationSummary[]; pages: number }> {
  const rows: ReservationSummary[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await ledger.listReservations({ ...query, cursor });
    pages += 1;
    expect(page.reservations.length).toBeLessThanOrEqual(query.limit ?? 50);
    rows.push(...page.reservations);
    cursor = page.hasMore === true ? page.nextCursor : undefined;
    if (page.hasMore === true) expect(page.nextCursor).toBeTruthy();
    if (pages > 100) throw new Error('listReservations paging does not terminate');
  } while (cursor !== undefined);
  return { rows, pages };
}

/** Follows `nextCursor` on getBalances and returns every scope path seen. */
async function allBalancePaths(ledger: Ledger, query: BalancesQuery): Promise<string[]> {
  const paths: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await ledger.getBalances({ ...query, cursor });
    pages += 1;
    for (const balance of page.balances) paths.push(`${balance.scopePath}|${balance.remaining.unit}`);
    cursor = page.hasMore === true ? page.nextCursor : undefined;
    if (pages > 100) throw new Error('getBalances paging does not terminate');
  } while (cursor !== undefined);
  return paths;
}

/** Seven reservations across two workspaces, 1 s apart, in every status. Returns ids by status. */
async function seedReservations(ledger: Ledger, advance: (ms: number) => void) {
  await seedBudget(ledger, 'tenant:acme', 100_000);
  await seedBudget(ledger, 'tenant:acme/workspace:prod', 50_000);
  await seedBudget(ledger, 'tenant:acme/workspace:dev', 50_000);
  const ids: string[] = [];
  const keyPrefix = freshKey('list');
  const estimates = [300, 100, 700, 200, 600, 400, 500];
  for (const [index, estimate] of estimates.entries()) {
    const workspace = index % 2 === 0 ? 'prod' : 'dev';
    const response = await ledger.reserve(
      reserveRequest(`tenant:acme/workspace:${workspace}`, estimate, {
        ttlMs: index === 6 ? 1000 : 600_000,
        gracePeriodMs: 0,
        idempotencyKey: `${keyPrefix}-${index}`,
      }),
    );
    ids.push(response.reservationId!);
    advance(1000);
  }
  await ledger.commit(ids[0]!, { idempotencyKey: freshKey('commit'), actual: { unit: UNIT, amount: 10 } });
  await ledger.release(ids[1]!, { idempotencyKey: freshKey('release') });
  advance(1);
  await ledger.sweepExpired();
  return { ids, keyPrefix };
}

/** §1.3 list reservations and balances: filters, sorting, cursor paging. */
export function registerQueryTests(options: ConformanceOptions): void {
  describe('listReservations', () => {
    const harness = harnessFactory(options);

    it('filters by status, subject level and idempotency key', async () => {
      const { ledger, clock } = await harness();
      const { ids, keyPrefix } = await seedReservations(ledger, (ms) => clock.advance(ms));
      const byStatus = async (status: 'ACTIVE' | 'COMMITTED' | 'RELEASED' | 'EXPIRED') =>
        (await ledger.listReservations({ tenant: 'acme', status })).reservations.map(
          (row) => row.reservationId,
        );
      expect(await byStatus('COMMITTED')).toEqual([ids[0]]);
      expect(await byStatus('RELEASED')).toEqual([ids[1]]);
      expect(await byStatus('EXPIRED')).toEqual([ids[6]]);
      expect((await byStatus('ACTIVE')).sort()).toEqual([ids[2], ids[3], ids[4], ids[5]].sort());
      const dev = await ledger.listReservations({ tenant: 'acme', workspace: 'dev' });
      expect(dev.reservations.map((row) => row.reservationId).sort()).toEqual(
        [ids[1], ids[3], ids[5]].sort(),
      );
      const byKey = await ledger.listReservations({ tenant: 'acme', idempotencyKey: `${keyPrefix}-4` });
      expect(byKey.reservations.map((row) => row.reservationId)).toEqual([ids[4]]);
      expect(byKey.reservations[0]?.status).toBe('ACTIVE');
      const none = await ledger.listReservations({ tenant: 'acme', idempotencyKey: freshKey('never-used') });
      expect(none.reservations).toEqual([]);
    });

    it('filters by created-at window (inclusive) and rejects from > to with 400', async () => {
      const { ledger, clock } = await harness();
      const start = clock.now();
      const { ids } = await seedReservations(ledger, (ms) => clock.advance(ms));
      const window = await ledger.listReservations({
        tenant: 'acme',
        fromMs: start + 1000,
        toMs: start + 3000,
        sortBy: 'created_at_ms',
        sortDir: 'asc',
      });
      expect(window.reservations.map((row) => row.reservationId)).toEqual([ids[1], ids[2], ids[3]]);
      await expectCyclesError(
        ledger.listReservations({ tenant: 'acme', fromMs: start + 2000, toMs: start + 1000 }),
        'INVALID_REQUEST',
      );
    });

    it('sorts by created_at_ms (desc by default) and by reserved', async () => {
      const { ledger, clock } = await harness();
      const { ids } = await seedReservations(ledger, (ms) => clock.advance(ms));
      const desc = await ledger.listReservations({ tenant: 'acme', sortBy: 'created_at_ms' });
      expect(desc.reservations.map((row) => row.reservationId)).toEqual([...ids].reverse());
      const asc = await ledger.listReservations({ tenant: 'acme', sortBy: 'created_at_ms', sortDir: 'asc' });
      expect(asc.reservations.map((row) => row.reservationId)).toEqual(ids);
      const byReserved = await ledger.listReservations({
        tenant: 'acme',
        sortBy: 'reserved',
        sortDir: 'asc',
      });
      expect(byReserved.reservations.map((row) => row.reserved.amount)).toEqual([
        100, 200, 300, 400, 500, 600, 700,
      ]);
    });

    it('pages with a cursor: every row exactly once, in sort order', async () => {
      const { ledger, clock } = await harness();
      const { ids } = await seedReservations(ledger, (ms) => clock.advance(ms));
      for (const limit of [1, 2, 3, 7]) {
        const { rows, pages } = await allReservationPages(ledger, {
          tenant: 'acme',
          sortBy: 'created_at_ms',
          sortDir: 'asc',
          limit,
        });
        expect(rows.map((row) => row.reservationId)).toEqual(ids);
        expect(pages).toBeGreaterThanOrEqual(Math.ceil(ids.length / limit));
      }
      const { rows } = await allReservationPages(ledger, { tenant: 'acme', status: 'ACTIVE', limit: 3 });
      expect(new Set(rows.map((row) => row.reservationId)).size).toBe(4);
    });

    it('a limit out of 1–200 is refused with 400', async () => {
      const { ledger } = await harness();
      await seedBudget(ledger, 'tenant:acme', 1000);
      await expectCyclesError(ledger.listReservations({ tenant: 'acme', limit: 0 }), 'INVALID_REQUEST');
      await expectCyclesError(ledger.listReservations({ tenant: 'acme', limit: 201 }), 'INVALID_REQUEST');
    });
  });

  describe('getBalances', () => {
    const harness = harnessFactory(options);

    async function seedTree(ledger: Ledger): Promise<void> {
      await seedBudget(ledger, 'tenant:acme', 1000);
      await seedBudget(ledger, 'tenant:acme', 70, { unit: 'CREDITS' });
      await seedBudget(ledger, 'tenant:acme/workspace:prod', 500);
      await seedBudget(ledger, 'tenant:acme/workspace:prod/agent:bot', 200);
      await seedBudget(ledger, 'tenant:acme/workspace:dev', 300);
      await seedBudget(ledger, 'tenant:acmex', 900);
      await seedBudget(ledger, 'tenant:other', 900);
    }

    it('matches whole segments at every level and in every unit', async () => {
      const { ledger } = await harness();
      await seedTree(ledger);
      expect((await allBalancePaths(ledger, { tenant: 'acme' })).sort()).toEqual(
        [
          'tenant:acme/workspace:dev|TOKENS',
          'tenant:acme/workspace:prod/agent:bot|TOKENS',
          'tenant:acme/workspace:prod|TOKENS',
          'tenant:acme|CREDITS',
          'tenant:acme|TOKENS',
        ].sort(),
      );
      expect((await allBalancePaths(ledger, { tenant: 'acme', workspace: 'prod' })).sort()).toEqual(
        ['tenant:acme/workspace:prod/agent:bot|TOKENS', 'tenant:acme/workspace:prod|TOKENS'].sort(),
      );
      expect(await allBalancePaths(ledger, { tenant: 'acme', agent: 'bot' })).toEqual([
        'tenant:acme/workspace:prod/agent:bot|TOKENS',
      ]);
    });

    it('reports leaf scope, full path and consistent counters', async () => {
      const { ledger } = await harness();
      await seedTree(ledger);
      await ledger.reserve(reserveRequest('tenant:acme/workspace:prod/agent:bot', 50));
      const { balances } = await ledger.getBalances({ tenant: 'acme', agent: 'bot' });
      expect(balances).toHaveLength(1);
      const [bot] = balances;
      expect(bot).toMatchObject({
        scope: 'agent:bot',
        scopePath: 'tenant:acme/workspace:prod/agent:bot',
        remaining: { unit: UNIT, amount: 150 },
        reserved: { unit: UNIT, amount: 50 },
        allocated: { unit: UNIT, amount: 200 },
      });
      expect(bot?.isOverLimit ?? false).toBe(false);
      const all = await ledger.getBalances({ tenant: 'acme', limit: 200 });
      for (const balance of all.balances) {
        const amount = (value: { amount: number } | undefined) => value?.amount ?? 0;
        expect(balance.remaining.amount).toBe(
          amount(balance.allocated) - amount(balance.spent) - amount(balance.reserved) - amount(balance.debt),
        );
      }
    });

    it('pages with a cursor, every ledger exactly once', async () => {
      const { ledger } = await harness();
      await seedTree(ledger);
      const all = await allBalancePaths(ledger, { tenant: 'acme' });
      for (const limit of [1, 2, 4]) {
        const paged = await allBalancePaths(ledger, { tenant: 'acme', limit });
        expect(paged).toHaveLength(5);
        expect(new Set(paged).size).toBe(5);
        expect([...paged].sort()).toEqual([...all].sort());
      }
    });

    it('no subject filter → 400', async () => {
      const { ledger } = await harness();
      await seedTree(ledger);
      await expectCyclesError(ledger.getBalances({}), 'INVALID_REQUEST');
      await expectCyclesError(ledger.getBalances({ limit: 10 }), 'INVALID_REQUEST');
    });
  });
}
