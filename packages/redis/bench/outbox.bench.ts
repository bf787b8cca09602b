import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Cycles, createCycles } from '@cycles-guard/core';
import type { Benchmark } from '../../../scripts/bench.ts';
import { percentile } from '../../../scripts/bench-stats.ts';
import { createRedisLedger } from '../src/index.ts';
import { startRedisServer } from '../src/testing/index.ts';

// What the settlement outbox costs a guarded call on the Redis ledger: its only hot-path work is the
// write-ahead intent (one background file write when the hold is granted, one unlink once it
// settles). Guarded reserve → commit pairs with intents on and off, in alternating rounds so the
// machine's load hits both alike.

const ROUNDS = 12;
const ROUND_MS = 700;
const CALLERS = 8;

function guarded(url: string, intents: boolean): Cycles {
  return createCycles({
    authority: createRedisLedger({ url, keyPrefix: 'bench-outbox:', sweepIntervalMs: 0 }),
    subject: { tenant: 'acme' },
    heartbeat: false,
    outbox: { directory: mkdtempSync(join(tmpdir(), 'bench-outbox-')), intents },
  });
}

/** Runs CALLERS loops of reserve → commit for `ms`; returns each pair's latency in µs. */
async function drive(cycles: Cycles, ms: number): Promise<number[]> {
  const until = Date.now() + ms;
  const latencies: number[] = [];
  const caller = async () => {
    while (Date.now() < until) {
      const started = process.hrtime.bigint();
      const hold = await cycles.reserve({ estimate: 1000 });
      await hold.commit(700);
      latencies.push(Number(process.hrtime.bigint() - started) / 1000);
    }
  };
  await Promise.all(Array.from({ length: CALLERS }, caller));
  return latencies;
}

const intentCost: Benchmark = {
  metrics: {
    'redis.outbox_intent_overhead_us_p50': { target: 250, better: 'lower', unit: 'µs' },
    'redis.outbox_intent_ratio': { target: 1.25, better: 'lower', unit: 'x' },
  },
  async run() {
    const server = await startRedisServer();
    const admin = createRedisLedger({ url: server.url, keyPrefix: 'bench-outbox:', sweepIntervalMs: 0 });
    await admin.createLedger({ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 1e15 });
    const off = guarded(server.url, false);
    const on = guarded(server.url, true);
    try {
      await drive(off, 1000);
      await drive(on, 1000);
      // Per round pair: the p50 with intents over the p50 without; the median of those ratios, so a
      // burst of load from elsewhere on the machine moves one round, not the figure.
      const ratios: number[] = [];
      const bases: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        // Alternate which goes first: the second of a pair runs on a warmer, fuller heap.
        const first = round % 2 === 0 ? off : on;
        const firstP50 = percentile(await drive(first, ROUND_MS), 0.5);
        const secondP50 = percentile(await drive(first === off ? on : off, ROUND_MS), 0.5);
        const base = first === off ? firstP50 : secondP50;
        const withIntents = first === off ? secondP50 : firstP50;
        ratios.push(withIntents / base);
        bases.push(base);
      }
      await on.flushSettlements(5_000);
      const ratio = percentile(ratios, 0.5);
      const base = percentile(bases, 0.5);
      console.error(
        `outbox bench: pair p50 ${base.toFixed(0)} µs without intents, median ratio ${ratio.toFixed(3)}`,
      );
      return {
        'redis.outbox_intent_overhead_us_p50': Math.max(0, (ratio - 1) * base),
        'redis.outbox_intent_ratio': ratio,
      };
    } finally {
      await on.close();
      await off.close();
      await admin.close();
      await server.remove();
    }
  },
};

export const benchmarks: Benchmark[] = [intentCost];
