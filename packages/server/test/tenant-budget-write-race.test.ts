import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { raceCall, useRaceServers } from './support/race-servers.ts';
import { useRedisServer } from './support/redis-server.ts';

// GOV Rule 2 for admin budget writes racing a tenant close: creates, funds and limit updates of the
// tenant's budgets sent through every server (two sharing one real redis-server on Redis) while the
// first server closes the tenant. Each write is applied before the flip (and its budget then closed by
// the cascade) or refused 409 TENANT_CLOSED: afterwards every budget of the tenant is CLOSED, every
// created one among them, the allocation is the start plus exactly the answered funds, and every write
// sent after the close answered was refused. A check of the status made before the write, outside it,
// lets a create land after the cascade listed the budgets: an ACTIVE budget under a CLOSED tenant.

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON bodies
type Json = any;

type Write = { kind: 'create' | 'fund' | 'limit'; via: number; amount: number };

const write = fc.record({
  kind: fc.constantFrom('create' as const, 'fund' as const, 'limit' as const),
  via: fc.nat({ max: 1 }),
  amount: fc.integer({ min: 1, max: 50 }),
});

const redis = useRedisServer();

describe.each([
  ['memory', 1, 15],
  ['redis', 2, 40],
] as const)('budget writes racing a tenant close on the %s ledger, %i server(s)', (kind, count, runs) => {
  const servers = useRaceServers(kind, count, () => redis.server, 'wrace:');

  let tenants = 0;
  let applied = 0;
  let refused = 0;
  it('applies each write before the flip or refuses it; nothing of the tenant stays open', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(write, { minLength: 1, maxLength: 10 }), { minLength: 4, maxLength: 12 }),
        fc.integer({ min: 0, max: 6 }),
        async (writers, closeAfterMs) => {
          const tenant = `wrace${kind}${++tenants}`;
          const root = `tenant:${tenant}`;
          expect(
            (await raceCall(servers[0]!, 'PUT', `/v1/admin/tenants/${tenant}`, { max_reservations: 100 }))
              .status,
          ).toBe(204);
          const start = await raceCall(servers[0]!, 'POST', '/v1/admin/budgets', {
            scope: root,
            unit: 'TOKENS',
            allocated: 100,
          });
          expect(start.status).toBe(201);
          let closedAt = Number.POSITIVE_INFINITY;
          let funded = 0;
          let apps = 0;
          const created: string[] = [];
          const late: Array<{ status: number; body: Json }> = [];
          const writer = async (writes: Write[]) => {
            for (const w of writes) {
              const server = servers[w.via % servers.length]!;
              const sentAt = performance.now();
              let answer: { status: number; body: Json };
              const scope = `${root}/app:a${++apps}`;
              if (w.kind === 'create') {
                answer = await raceCall(server, 'POST', '/v1/admin/budgets', {
                  scope,
                  unit: 'TOKENS',
                  allocated: w.amount,
                });
                if (answer.status === 201) created.push(scope);
              } else if (w.kind === 'fund') {
                answer = await raceCall(server, 'POST', `/v1/admin/budgets/fund?scope=${root}&unit=TOKENS`, {
                  operation: 'CREDIT',
                  amount: w.amount,
                });
                if (answer.status === 200) funded += w.amount;
              } else {
                answer = await raceCall(server, 'PATCH', `/v1/admin/budgets?scope=${root}&unit=TOKENS`, {
                  overdraft_limit: w.amount,
                });
              }
              if (answer.status < 300) applied++;
              else {
                refused++;
                expect([answer.status, answer.body.error]).toEqual([409, 'TENANT_CLOSED']);
              }
              if (sentAt > closedAt) late.push(answer);
            }
          };
          const close = (async () => {
            await new Promise((resolve) => setTimeout(resolve, closeAfterMs));
            const answer = await raceCall(servers[0]!, 'PUT', `/v1/admin/tenants/${tenant}`, {
              status: 'CLOSED',
            });
            closedAt = performance.now();
            expect(answer.status).toBe(204);
          })();
          await Promise.all([close, ...writers.map(writer)]);

          const all = (await raceCall(servers[0]!, 'GET', '/v1/admin/budgets')).body.ledgers as Json[];
          const own = all.filter((b) => b.scope === root || b.scope.startsWith(`${root}/`));
          expect(own.map((b) => [b.scope, b.status]).filter(([, status]) => status !== 'CLOSED')).toEqual([]);
          expect(own.map((b) => b.scope).sort()).toEqual([root, ...created].sort());
          expect(own.find((b) => b.scope === root).allocated).toBe(100 + funded);
          for (const answer of late)
            expect([answer.status, answer.body.error]).toEqual([409, 'TENANT_CLOSED']);
        },
      ),
      { numRuns: runs },
    );
    expect(applied).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  }, 180_000);
});
