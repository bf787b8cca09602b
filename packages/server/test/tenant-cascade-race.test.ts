import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { raceCall, useRaceServers } from './support/race-servers.ts';
import { useRedisServer } from './support/redis-server.ts';

// GOV Rule 1 under load: a tenant close over HTTP racing that tenant's own reserves, commits and
// releases, sent by several clients at once through every server of the ledger (one server on the
// memory ledger; two servers sharing one real redis-server, the close going through the first), with
// random amounts and a random moment of the close. Afterwards: every budget of the tenant is CLOSED and
// holds nothing, spend is exactly what the answered commits charged and stays within what was
// allocated, every granted reservation ended COMMITTED (its commit answered 200, before the flip) or
// RELEASED (by the close, its late commit refused), and every write sent after the close answered was
// refused: 409 TENANT_CLOSED by the ledger, or 401 once a server knows the tenant's key is revoked.
// Holds landing through the second server between a drain and a flip (the close's old per-process
// path) break "nothing held".

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON bodies
type Json = any;

interface Step {
  amount: number;
  app: boolean;
  /** The server (index modulo the count) the step's writes go through. */
  via: number;
  /** commit this share of the estimate (may exceed it), release, or leave the hold live. */
  settle: { commit: number } | 'release' | 'leave';
}

const step = fc.record({
  amount: fc.integer({ min: 1, max: 120 }),
  app: fc.boolean(),
  via: fc.nat({ max: 1 }),
  settle: fc.oneof(
    fc.record({ commit: fc.double({ min: 0, max: 1.5, noNaN: true }) }),
    fc.constant('release' as const),
    fc.constant('leave' as const),
  ),
});

const REFUSED = [
  [409, 'TENANT_CLOSED'],
  [401, 'UNAUTHORIZED'],
];

const redis = useRedisServer();

describe.each([
  ['memory', 1, 15],
  ['redis', 2, 10],
] as const)('tenant close racing its own writes on the %s ledger, %i server(s)', (kind, count, runs) => {
  const servers = useRaceServers(kind, count, () => redis.server, 'race:');

  let tenants = 0;
  /** A fresh tenant with a key every server knows, and two TOKENS budgets (tenant, app:a). */
  async function provision(allocated: number): Promise<{ tenant: string; key: string }> {
    const tenant = `race${kind}${++tenants}`;
    const key = `key-${tenant}`;
    for (const server of servers) server.apiKeys.add(key, tenant);
    const settings = { default_reservation_ttl_ms: 60_000 };
    expect((await raceCall(servers[0]!, 'PUT', `/v1/admin/tenants/${tenant}`, settings)).status).toBe(204);
    for (const [scope, amount] of [
      [`tenant:${tenant}`, allocated],
      [`tenant:${tenant}/app:a`, Math.floor(allocated / 2)],
    ] as const) {
      const created = await raceCall(servers[0]!, 'POST', '/v1/admin/budgets', {
        scope,
        unit: 'TOKENS',
        allocated: amount,
      });
      expect(created.status).toBe(201);
    }
    return { tenant, key };
  }

  async function ownBudgets(tenant: string): Promise<Json[]> {
    const budgets = (await raceCall(servers[0]!, 'GET', '/v1/admin/budgets', undefined)).body.ledgers;
    return budgets.filter(
      (b: Json) => b.scope === `tenant:${tenant}` || b.scope.startsWith(`tenant:${tenant}/`),
    );
  }

  // The runs must have exercised the race: holds only the close could end, and writes after it.
  let drained = 0;
  let lateWrites = 0;
  it('leaves nothing held and every answered charge recorded, whenever the close lands', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 100, max: 1000 }),
        fc.array(fc.array(step, { minLength: 1, maxLength: 8 }), { minLength: 2, maxLength: 6 }),
        fc.integer({ min: 0, max: 25 }),
        async (allocated, clients, closeAfterMs) => {
          const { tenant, key } = await provision(allocated);
          let closedAt = Number.POSITIVE_INFINITY;
          let sent = 0;
          const late: Array<{ status: number; body: Json }> = [];
          /** Sends a tenant write, and keeps its answer when it was sent after the close answered. */
          const write = async (via: number, path: string, body: unknown) => {
            const sentAt = performance.now();
            const server = servers[via % servers.length]!;
            const payload = { idempotency_key: `${tenant}-${++sent}`, ...(body as object) };
            const answer = await raceCall(server, 'POST', path, payload, key);
            if (sentAt > closedAt) late.push(answer);
            return answer;
          };
          /** Granted reservations: whether their commit was answered 200, and for which budgets. */
          const granted = new Map<string, { committed: boolean; app: boolean }>();
          const charged = { tenant: 0, app: 0 };
          const held: string[] = [];
          let closed: Promise<void> = Promise.resolve();
          const client = async (steps: Step[]) => {
            for (const s of steps) {
              const reserved = await write(s.via, '/v1/reservations', {
                subject: { tenant, ...(s.app ? { app: 'a' } : {}) },
                action: { kind: 'llm.completion', name: 'm' },
                estimate: { unit: 'TOKENS', amount: s.amount },
              });
              if (reserved.status !== 200 || reserved.body.decision !== 'ALLOW') continue;
              const id = reserved.body.reservation_id;
              const outcome = { committed: false, app: s.app };
              granted.set(id, outcome);
              if (s.settle === 'leave') held.push(id);
              else if (s.settle === 'release') await write(s.via + 1, `/v1/reservations/${id}/release`, {});
              else {
                const actual = Math.round(s.amount * s.settle.commit);
                const commit = await write(s.via + 1, `/v1/reservations/${id}/commit`, {
                  actual: { unit: 'TOKENS', amount: actual },
                });
                if (commit.status === 200) {
                  outcome.committed = true;
                  charged.tenant += commit.body.charged.amount;
                  if (s.app) charged.app += commit.body.charged.amount;
                }
              }
            }
            // Then, once the close answered, a reserve and a commit of a hold it ended, through each server.
            await closed;
            for (let via = 0; via < servers.length; via++) {
              await write(via, '/v1/reservations', {
                subject: { tenant },
                action: { kind: 'llm.completion', name: 'm' },
                estimate: { unit: 'TOKENS', amount: 1 },
              });
              const ended = held.shift();
              if (ended !== undefined) {
                await write(via, `/v1/reservations/${ended}/commit`, {
                  actual: { unit: 'TOKENS', amount: 1 },
                });
              }
            }
          };
          closed = (async () => {
            await new Promise((resolve) => setTimeout(resolve, closeAfterMs));
            const answer = await raceCall(servers[0]!, 'PUT', `/v1/admin/tenants/${tenant}`, {
              status: 'CLOSED',
            });
            closedAt = performance.now();
            expect(answer.status).toBe(204);
          })();
          await Promise.all([closed, ...clients.map(client)]);

          const budgets = await ownBudgets(tenant);
          expect(budgets).toHaveLength(2);
          for (const budget of budgets) {
            expect(budget.status).toBe('CLOSED');
            expect(budget.reserved).toBe(0);
            expect(budget.spent).toBe(budget.scope.endsWith('/app:a') ? charged.app : charged.tenant);
            expect(budget.spent).toBeLessThanOrEqual(budget.allocated);
            expect(budget.remaining).toBe(budget.allocated - budget.spent - budget.debt);
          }
          const ledger = servers[0]!.ledger;
          const live = await ledger.listReservations({ tenant, status: 'ACTIVE' }, { tenant });
          expect(live.reservations).toEqual([]);
          for (const [id, outcome] of granted) {
            const { status } = await ledger.getReservation(id);
            expect(status, id).toBe(outcome.committed ? 'COMMITTED' : 'RELEASED');
            if (!outcome.committed && status === 'RELEASED') drained++;
          }
          lateWrites += late.length;
          for (const answer of late) expect(REFUSED).toContainEqual([answer.status, answer.body.error]);
        },
      ),
      { numRuns: runs },
    );
    expect(drained).toBeGreaterThan(0);
    expect(lateWrites).toBeGreaterThan(0);
  }, 180_000);
});
