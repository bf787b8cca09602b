import { type BudgetAuthority, BudgetExceededError, createHttpAuthority } from '@cycles-guard/core';
import { tenantTag } from '@cycles-guard/redis';
import { type RedisClusterHandle, startRedisCluster } from '@cycles-guard/redis/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { createContractRecorder } from './support/contract.ts';

// Two server instances over one Redis Cluster (3 masters + 3 replicas on loopback), clients spread over
// both: six tenants, whose hash tags put them on different masters, each oversubscribed by 160
// concurrent reserve/commit loops. Every scope ends within its budget, nothing stays held, and spend is
// exactly what the granted calls committed.

const recorder = createContractRecorder();
const TENANTS = ['acme', 'beta', 'gamma', 'delta', 'omega', 'sigma'];
const keyOf = (tenant: string) => `key-${tenant}-0001`;
let cluster: RedisClusterHandle;
const servers: CyclesServer[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster();
}, 60_000);
afterAll(async () => {
  for (const server of servers) await server.close();
  await cluster?.remove();
});

async function instance(): Promise<CyclesServer> {
  const server = await startCyclesServer({
    port: 0,
    logLevel: 'silent',
    ledger: { type: 'redis', cluster: cluster.nodes, keyPrefix: 'two-servers:' },
    apiKeys: Object.fromEntries(TENANTS.map((tenant) => [keyOf(tenant), tenant])),
    ledgers: TENANTS.flatMap((tenant) => [
      { scope: `tenant:${tenant}`, unit: 'TOKENS' as const, allocated: 600 },
      { scope: `tenant:${tenant}/app:chat`, unit: 'TOKENS' as const, allocated: 500 },
    ]),
  });
  servers.push(server);
  return server;
}

describe('two servers on one Redis Cluster', () => {
  it('clients on both servers never oversubscribe any tenant, and spend is exactly what was committed', async () => {
    const masters = new Set(
      await Promise.all(TENANTS.map((tenant) => cluster.masterOf(`two-servers:{${tenantTag(tenant)}}seq`))),
    );
    expect(masters.size).toBeGreaterThanOrEqual(2);
    const pair = [await instance(), await instance()];
    const authority = (index: number, tenant: string): BudgetAuthority =>
      createHttpAuthority({ baseUrl: pair[index % 2]!.url, apiKey: keyOf(tenant), fetch: recorder.fetch });
    const granted = new Map<string, number>(TENANTS.map((tenant) => [tenant, 0]));
    await Promise.all(
      Array.from({ length: 160 }, async (_, index) => {
        const tenant = TENANTS[index % TENANTS.length]!;
        const client = authority(index, tenant);
        try {
          const held = await client.reserve({
            idempotencyKey: `two-${index}`,
            subject: { tenant, app: 'chat' },
            action: { kind: 'llm.completion', name: 'm' },
            estimate: { unit: 'TOKENS', amount: 30 },
          });
          // Settled through the other server: the reservation lives in the cluster, not in a server.
          await authority(index + 1, tenant).commit(held.reservationId!, {
            idempotencyKey: `two-commit-${index}`,
            actual: { unit: 'TOKENS', amount: 25 },
          });
          granted.set(tenant, granted.get(tenant)! + 1);
        } catch (error) {
          expect(BudgetExceededError.isInstance(error)).toBe(true);
        }
      }),
    );
    const ledger = pair[0]!.ledger;
    for (const tenant of TENANTS) {
      // 500 / 30 = 16 full holds fit at once; commits return 5 each, so a few more get through.
      expect(granted.get(tenant)).toBeGreaterThanOrEqual(16);
      for (const scope of [`tenant:${tenant}`, `tenant:${tenant}/app:chat`]) {
        const row = await ledger.getLedger(scope, 'TOKENS');
        expect(row).toMatchObject({ reserved: 0, spent: granted.get(tenant)! * 25, debt: 0 });
        expect(row!.spent).toBeLessThanOrEqual(row!.allocated);
      }
    }
    // Both servers read the same state.
    expect(await pair[1]!.ledger.getLedger('tenant:acme/app:chat', 'TOKENS')).toEqual(
      await ledger.getLedger('tenant:acme/app:chat', 'TOKENS'),
    );
    expect(recorder.violations, recorder.violations.join('\n')).toEqual([]);
  }, 60_000);
});
