import { type BudgetAuthority, BudgetExceededError, createHttpAuthority } from '@cycles-guard/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { createContractRecorder } from './support/contract.ts';
import { useRedisServer } from './support/redis-server.ts';

// Several server instances over one Redis enforce one budget, and a restart keeps what was spent.

const recorder = createContractRecorder();
const API_KEY = 'shared-key-0001';
const redis = useRedisServer();
const servers: CyclesServer[] = [];
let prefixes = 0;

afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
  expect(recorder.violations, recorder.violations.join('\n')).toEqual([]);
});

async function instance(
  keyPrefix: string,
  allocated: number,
): Promise<{ server: CyclesServer; authority: BudgetAuthority }> {
  const server = await startCyclesServer({
    port: 0,
    logLevel: 'silent',
    ledger: { type: 'redis', url: redis.server.url, keyPrefix },
    apiKeys: { [API_KEY]: 'acme' },
    ledgers: [
      { scope: 'tenant:acme', unit: 'TOKENS', allocated },
      { scope: 'tenant:acme/app:chat', unit: 'TOKENS', allocated },
    ],
  });
  servers.push(server);
  return {
    server,
    authority: createHttpAuthority({ baseUrl: server.url, apiKey: API_KEY, fetch: recorder.fetch }),
  };
}

let keys = 0;
const reserveRequest = (amount: number) => ({
  idempotencyKey: `shared-${++keys}`,
  subject: { tenant: 'acme', app: 'chat' },
  action: { kind: 'llm.completion', name: 'm' },
  estimate: { unit: 'TOKENS' as const, amount },
});

describe('Redis mode', () => {
  it('three servers on one Redis hold one budget: 120 concurrent reserve/commit loops never oversubscribe', async () => {
    const prefix = `shared:${++prefixes}:`;
    const nodes = [await instance(prefix, 1000), await instance(prefix, 1000), await instance(prefix, 1000)];
    const results = await Promise.allSettled(
      Array.from({ length: 120 }, async (_, index) => {
        const { authority } = nodes[index % nodes.length] ?? (nodes[0] as (typeof nodes)[number]);
        const held = await authority.reserve(reserveRequest(30));
        await authority.commit(held.reservationId as string, {
          idempotencyKey: `commit-${held.reservationId}`,
          actual: { unit: 'TOKENS', amount: 25 },
        });
        return held;
      }),
    );
    const granted = results.filter((result) => result.status === 'fulfilled').length;
    for (const result of results) {
      if (result.status === 'rejected') expect(BudgetExceededError.isInstance(result.reason)).toBe(true);
    }
    const ledger = nodes[0]?.server.ledger;
    for (const scope of ['tenant:acme', 'tenant:acme/app:chat']) {
      const row = await ledger?.getLedger(scope, 'TOKENS');
      expect(row).toMatchObject({ reserved: 0, spent: granted * 25, debt: 0 });
      expect(row?.spent).toBeLessThanOrEqual(1000);
      expect(row?.remaining).toBe((row?.allocated ?? 0) - (row?.spent ?? 0));
    }
    // 1000 / 30 = 33 full holds fit at once; commits return 5 each, so a few more get through.
    expect(granted).toBeGreaterThanOrEqual(33);
    expect(granted).toBeLessThanOrEqual(40);
  }, 60_000);

  it('a restarted server keeps the spent budget: config ledgers are created only when missing', async () => {
    const prefix = `restart:${++prefixes}:`;
    const first = await instance(prefix, 500);
    const held = await first.authority.reserve(reserveRequest(200));
    await first.authority.commit(held.reservationId as string, {
      idempotencyKey: 'restart-commit',
      actual: { unit: 'TOKENS', amount: 200 },
    });
    await first.server.close();
    const second = await instance(prefix, 500);
    const balances = await second.authority.getBalances({ tenant: 'acme', app: 'chat' });
    expect(balances.balances[0]).toMatchObject({ remaining: { amount: 300 }, spent: { amount: 200 } });
    await expect(second.authority.reserve(reserveRequest(301))).rejects.toSatisfy((error) =>
      BudgetExceededError.isInstance(error),
    );
    expect(await (await fetch(`${second.server.url}/health`)).json()).toEqual({
      status: 'ok',
      ledger: 'redis',
    });
  });
});
