import { CyclesError } from '@cycles-guard/core';
import type { Benchmark } from '../../../scripts/bench.ts';
import { createRedisLedger, type RedisLedger } from '../src/index.ts';
import { startRedisServer } from '../src/testing/index.ts';

// What a flood of new subjects costs Redis (issue 22): one guarded call (reserve → commit) per new
// tenant id on a daily `tenant:*` template. Redis memory (INFO used_memory) per live template ledger
// (its budget, its members in the tl sorted sets, its idempotency records and retained reservation),
// and what a further flood adds once the default bound refuses.

async function usedMemory(ledger: RedisLedger): Promise<number> {
  const info = await ledger.client.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1]);
}

/** One guarded call per new tenant, 20 at a time; answers how many were refused. */
async function flood(ledger: RedisLedger, from: number, count: number): Promise<number> {
  let refused = 0;
  let next = from;
  const caller = async () => {
    while (next < from + count) {
      const i = next++;
      try {
        const hold = await ledger.reserve({
          idempotencyKey: `r${i}`,
          subject: { tenant: `tenant-${i}` },
          action: { kind: 'llm.completion', name: 'bench' },
          estimate: { unit: 'USD_MICROCENTS', amount: 1000 },
        });
        await ledger.commit(hold.reservationId!, {
          idempotencyKey: `c${i}`,
          actual: { unit: 'USD_MICROCENTS', amount: 700 },
        });
      } catch (error) {
        if (!(CyclesError.isInstance(error) && error.code === 'INVALID_REQUEST')) throw error;
        refused++;
      }
    }
  };
  await Promise.all(Array.from({ length: 20 }, caller));
  return refused;
}

const templates: Benchmark = {
  metrics: {
    'ledger.redis.templates.bytes_per_live_ledger': { target: 2000, better: 'lower', unit: 'bytes' },
    'ledger.redis.templates.growth_mb_per_10k_refused': { target: 0.5, better: 'lower', unit: 'MB' },
  },
  async run() {
    const server = await startRedisServer();
    // No reservation retention (the sweep forgets each finished one with its tenant's count and index),
    // so the figure is the ledger's own plus its reserve key; retained reservations cost what they cost
    // per tenant for their replay window (README).
    const ledger = createRedisLedger({
      url: server.url,
      keyPrefix: 'bench:',
      maxTemplateLedgers: 20_000,
      reservationRetentionMs: 0,
    });
    try {
      await ledger.addTemplate({
        pattern: 'tenant:*',
        unit: 'USD_MICROCENTS',
        allocated: 1_000_000,
        window: { period: 'day' },
      });
      await flood(ledger, 0, 1000);
      await ledger.sweepExpired();
      const before = await usedMemory(ledger);
      await flood(ledger, 1000, 19_000);
      await ledger.sweepExpired();
      const full = await usedMemory(ledger);
      const refused = await flood(ledger, 20_000, 10_000);
      const after = await usedMemory(ledger);
      console.error(`redis: ${refused} of 10,000 new tenants refused past maxTemplateLedgers (20,000)`);
      return {
        'ledger.redis.templates.bytes_per_live_ledger': (full - before) / 19_000,
        'ledger.redis.templates.growth_mb_per_10k_refused': (after - full) / 1024 / 1024,
      };
    } finally {
      await ledger.close();
      await server.remove();
    }
  },
};

export const benchmarks: Benchmark[] = [templates];
