import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LOOPBACK_WEBHOOKS } from './support/loopback-webhooks.ts';
import { raceCall, useRaceServers } from './support/race-servers.ts';
import { useRedisServer } from './support/redis-server.ts';

// GOV Rules 1 and 2 for webhook subscriptions racing a tenant close: creates (admin key or the tenant's
// own) and updates (pause, resume, rename) of the tenant's subscriptions sent through every server (two
// sharing one real redis-server on Redis) while the first server closes the tenant. Afterwards every
// stored subscription of the tenant is DISABLED, exactly the answered creates are stored (a refused one
// left nothing), and every write sent after the close answered was refused. A status check made before
// the write only, and a cascade that disables the subscriptions its own server has cached, leave a
// subscription written through the other server (or past the check here) ACTIVE on a CLOSED tenant.

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON bodies
type Json = any;

type Write = { kind: 'create' | 'pause' | 'resume' | 'rename'; via: number; admin: boolean; pick: number };

const write = fc.record({
  kind: fc.constantFrom('create' as const, 'pause' as const, 'resume' as const, 'rename' as const),
  via: fc.nat({ max: 1 }),
  admin: fc.boolean(),
  pick: fc.nat(),
});

const REFUSED = [
  [409, 'TENANT_CLOSED'],
  [401, 'UNAUTHORIZED'],
];

/** The receivers' host name resolves as a real lookup does, a few ms later: a wider window between a
 * create's status check and its write. */
async function slowLoopbackResolver() {
  await new Promise((resolve) => setTimeout(resolve, Math.random() * 6));
  return [{ address: '127.0.0.1', family: 4 }];
}

const redis = useRedisServer();

describe.each([
  ['memory', 1, 20],
  ['redis', 2, 30],
] as const)(
  'subscription writes racing a tenant close on the %s ledger, %i server(s)',
  (kind, count, runs) => {
    const servers = useRaceServers(kind, count, () => redis.server, 'whrace:', {
      webhookSecurity: LOOPBACK_WEBHOOKS,
      webhookResolver: slowLoopbackResolver,
    });

    let tenants = 0;
    let applied = 0;
    let refused = 0;
    it('applies each write before the flip or refuses it; no subscription of the tenant stays enabled', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.array(write, { minLength: 1, maxLength: 8 }), { minLength: 2, maxLength: 6 }),
          fc.integer({ min: 0, max: 8 }),
          async (writers, closeAfterMs) => {
            const tenant = `whrace${kind}${++tenants}`;
            const key = `key-${tenant}`;
            for (const server of servers) server.apiKeys.add(key, tenant);
            const settings = { default_reservation_ttl_ms: 60_000 };
            expect((await raceCall(servers[0]!, 'PUT', `/v1/admin/tenants/${tenant}`, settings)).status).toBe(
              204,
            );
            /** Stored subscriptions: id → the server that created it (updates go through it: it has it cached). */
            const created = new Map<string, number>();
            const subscribe = async (via: number, admin: boolean) => {
              const body = { url: `http://hooks.test:9/${tenant}`, event_types: ['budget.exhausted'] };
              const server = servers[via % servers.length]!;
              const answer = admin
                ? await raceCall(server, 'POST', `/v1/admin/webhooks?tenant_id=${tenant}`, body)
                : await raceCall(server, 'POST', '/v1/webhooks', body, key);
              if (answer.status === 201) created.set(answer.body.subscription.subscription_id, via);
              return answer;
            };
            expect((await subscribe(0, true)).status).toBe(201);

            let closedAt = Number.POSITIVE_INFINITY;
            const late: Array<{ status: number; body: Json }> = [];
            const writer = async (writes: Write[]) => {
              for (const w of writes) {
                const sentAt = performance.now();
                let answer: { status: number; body: Json };
                if (w.kind === 'create') answer = await subscribe(w.via, w.admin);
                else {
                  const ids = [...created.keys()];
                  const id = ids[w.pick % ids.length]!;
                  const server = servers[created.get(id)! % servers.length]!;
                  const body =
                    w.kind === 'rename'
                      ? { name: `n${w.pick}` }
                      : { status: w.kind === 'pause' ? 'PAUSED' : 'ACTIVE' };
                  answer = w.admin
                    ? await raceCall(server, 'PATCH', `/v1/admin/webhooks/${id}`, body)
                    : await raceCall(server, 'PATCH', `/v1/webhooks/${id}`, body, key);
                }
                if (answer.status < 300) applied++;
                else {
                  refused++;
                  expect(REFUSED).toContainEqual([answer.status, answer.body.error]);
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

            // The store itself, not a server's cached view of it.
            const stored = (await servers[0]!.webhooks!.store.subscriptions()).filter(
              (s) => s.tenant_id === tenant,
            );
            expect(
              stored.filter((s) => s.status !== 'DISABLED').map((s) => [s.subscription_id, s.status]),
            ).toEqual([]);
            expect(stored.map((s) => s.subscription_id).sort()).toEqual([...created.keys()].sort());
            for (const answer of late) expect(REFUSED).toContainEqual([answer.status, answer.body.error]);
          },
        ),
        { numRuns: runs },
      );
      expect(applied).toBeGreaterThan(0);
      expect(refused).toBeGreaterThan(0);
    }, 240_000);
  },
);
