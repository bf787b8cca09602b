import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Cycles, createCycles } from '@cycles-guard/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisLedger, type RedisLedger } from '../src/index.ts';
import { tenantTag } from '../src/keys.ts';
import { type RedisClusterHandle, startRedisCluster } from '../src/testing/index.ts';

// A master of a real 3+3 cluster is SIGKILLed while two guard instances reserve and commit LLM calls
// for twelve tenants from 24 callers. Its replica is promoted (by the cluster, not on request). With
// waitForReplicas: 1 nothing a caller saw confirmed can be lost with the master; commits that failed
// meanwhile go to the settlement outbox and are replayed with their keys. Afterwards, on every tenant:
// spend ≤ budget, and spend == every confirmed charge + every queued one, each exactly once.

const PREFIX = 'failover:';
const MODEL = 'test.model-v1';
const PRICES = {
  [MODEL]: { inputPerMillion: 1_000_000, outputPerMillion: 4_000_000, maxOutputTokens: 1000 },
};
const TENANTS = Array.from({ length: 12 }, (_, i) => `t${i}`);
// Half the tenants run out of budget during the run, half never do.
const allocated = (tenant: string) => (Number(tenant.slice(1)) % 2 === 0 ? 4_100 * 40 : 4_100 * 1_000);

let cluster: RedisClusterHandle;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster({ nodeTimeoutMs: 1000 });
}, 60_000);

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
  await cluster?.remove();
});

function ledger(operationTimeoutMs: number): RedisLedger {
  const opened = createRedisLedger({
    cluster: cluster.nodes,
    keyPrefix: PREFIX,
    operationTimeoutMs,
    sweepIntervalMs: 0,
    waitForReplicas: 1,
  });
  closers.push(() => opened.close());
  return opened;
}

async function guard(): Promise<Cycles> {
  const cycles = createCycles({
    authority: ledger(500),
    prices: PRICES,
    heartbeat: false,
    retry: { attempts: 3, baseDelayMs: 100 },
    outbox: { directory: await mkdtemp(join(tmpdir(), 'cycles-failover-')), replayIntervalMs: 200 },
  });
  closers.push(() => cycles.close());
  return cycles;
}

describe('redis cluster: a master crashes under load', () => {
  it('spend stays within every budget and every charge is recorded exactly once', async () => {
    const admin = ledger(10_000);
    for (const tenant of TENANTS) {
      await admin.createLedger({
        scope: `tenant:${tenant}`,
        unit: 'USD_MICROCENTS',
        allocated: allocated(tenant),
      });
    }
    const instances = [await guard(), await guard()];
    const charged = new Map<string, number>(TENANTS.map((tenant) => [tenant, 0]));
    const outcomes = { confirmed: 0, queued: 0, refused: 0, unavailable: 0, answeredOnVictimAfterCrash: 0 };
    // The master of t0's tag: its tenants must keep working once the replica is promoted.
    const victim = await cluster.masterOf(`${PREFIX}{${tenantTag('t0')}}seq`);
    const onVictim = new Set<string>();
    for (const tenant of TENANTS) {
      if ((await cluster.masterOf(`${PREFIX}{${tenantTag(tenant)}}seq`)) === victim) onVictim.add(tenant);
    }
    let crashed = false;
    let stop = false;

    const caller = async (cycles: Cycles, index: number) => {
      for (let round = 0; !stop; round++) {
        const tenant = TENANTS[(index + round) % TENANTS.length]!;
        let call: Awaited<ReturnType<Cycles['beginLlmCall']>>;
        try {
          call = await cycles.beginLlmCall({ model: MODEL, inputTokens: 100, subject: { tenant } });
        } catch (error) {
          const code = (error as { code?: string }).code;
          if (code === 'AUTHORITY_UNAVAILABLE') outcomes.unavailable += 1;
          else {
            expect(code).toBe('BUDGET_EXCEEDED');
            outcomes.refused += 1;
            if (crashed && onVictim.has(tenant)) outcomes.answeredOnVictimAfterCrash += 1;
          }
          await new Promise((resolve) => setTimeout(resolve, 20));
          continue;
        }
        const output = Math.min(1 + ((index * 37 + round * 11) % 1000), call.maxOutputTokens);
        const actual = 100 + 4 * output;
        // Counted before the answer: a commit that fails is in the outbox by the time it throws.
        charged.set(tenant, charged.get(tenant)! + actual);
        try {
          const settlement = await call.commit({ inputTokens: 100, outputTokens: output });
          expect(settlement).toMatchObject({ status: 'committed', charged: actual });
          outcomes.confirmed += 1;
          if (crashed && onVictim.has(tenant)) outcomes.answeredOnVictimAfterCrash += 1;
        } catch {
          outcomes.queued += 1;
        }
      }
    };

    const callers = instances.flatMap((cycles, i) =>
      Array.from({ length: 12 }, (_, j) => caller(cycles, i * 12 + j)),
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await cluster.crash(victim);
    crashed = true;
    await cluster.healthy(30_000);
    // The promoted replica has no replica of its own: with waitForReplicas 1 its writes fail closed
    // until the crashed node comes back, as its replica.
    await cluster.restart(victim);
    await cluster.replicated(30_000);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    stop = true;
    await Promise.all(callers);

    for (const cycles of instances) expect(await cycles.flushSettlements(20_000)).toEqual({ pending: 0 });
    expect(await cluster.masters()).not.toContain(victim);
    expect(outcomes.confirmed).toBeGreaterThan(100);
    // The crash was felt (calls failed closed), and the promoted replica served the victim's tenants.
    expect(outcomes.unavailable + outcomes.queued).toBeGreaterThan(0);
    expect(outcomes.answeredOnVictimAfterCrash).toBeGreaterThan(0);
    for (const tenant of TENANTS) {
      const state = await admin.getLedger(`tenant:${tenant}`, 'USD_MICROCENTS');
      expect(state!.spent).toBeLessThanOrEqual(allocated(tenant));
      expect({ tenant, spent: state!.spent }).toEqual({ tenant, spent: charged.get(tenant) });
      expect(state!.remaining).toBe(state!.allocated - state!.reserved - state!.spent - state!.debt);
    }
  }, 90_000);
});
