import type { Subject } from '@cycles-guard/core';
import type { Benchmark } from '../../../scripts/bench.ts';
import { percentile } from '../../../scripts/bench-stats.ts';
import { createRedisLedger, type RedisLedger } from '../src/index.ts';
import { startRedisServer } from '../src/testing/index.ts';

// 50 concurrent callers, each looping reserve → commit on one hot 3-level budget, against a local
// redis-server (AOF on, appendfsync everysec) with Redis TIME as the clock: the production setup.

const SUBJECT: Subject = { tenant: 'acme', workspace: 'prod', app: 'chat' };
const SCOPES = ['tenant:acme', 'tenant:acme/workspace:prod', 'tenant:acme/workspace:prod/app:chat'];
const ACTION = { kind: 'llm.completion', name: 'bench' };
const CALLERS = 50;
const WARMUP_MS = 2000;
const MEASURE_MS = 10_000;

let sequence = 0;
async function reserveCommit(ledger: RedisLedger): Promise<void> {
  const id = ++sequence;
  const { reservationId } = await ledger.reserve({
    idempotencyKey: `r${id}`,
    subject: SUBJECT,
    action: ACTION,
    estimate: { unit: 'USD_MICROCENTS', amount: 1000 },
  });
  await ledger.commit(reservationId as string, {
    idempotencyKey: `c${id}`,
    actual: { unit: 'USD_MICROCENTS', amount: 700 },
  });
}

async function redisCpuSeconds(ledger: RedisLedger): Promise<number> {
  const info = await ledger.client.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? Number.NaN);
  return field('used_cpu_user') + field('used_cpu_sys');
}

/** Runs every caller until `untilMs`; returns each pair's latency in µs. */
async function drive(ledger: RedisLedger, untilMs: number): Promise<number[]> {
  const latencies: number[] = [];
  const caller = async () => {
    while (Date.now() < untilMs) {
      const started = process.hrtime.bigint();
      await reserveCommit(ledger);
      latencies.push(Number(process.hrtime.bigint() - started) / 1000);
    }
  };
  await Promise.all(Array.from({ length: CALLERS }, caller));
  return latencies;
}

const hotBudget: Benchmark = {
  metrics: {
    'ledger.redis.reserve_commit_per_sec': { target: 10_000, better: 'higher', unit: 'pairs/s' },
    'ledger.redis.reserve_commit_p99_us': { target: 2000, better: 'lower', unit: 'µs' },
  },
  async run() {
    const server = await startRedisServer();
    // One tenant ends ~10,000 reservations a second: past its bound its own oldest go at once (else 429).
    const ledger = createRedisLedger({ url: server.url, keyPrefix: 'bench:', reservationReplayWindowMs: 0 });
    try {
      for (const scope of SCOPES)
        await ledger.createLedger({ scope, unit: 'USD_MICROCENTS', allocated: 1e15 });
      await drive(ledger, Date.now() + WARMUP_MS);
      const redisCpuBefore = await redisCpuSeconds(ledger);
      const nodeCpuBefore = process.cpuUsage();
      const started = process.hrtime.bigint();
      const latencies = await drive(ledger, Date.now() + MEASURE_MS);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // CPU per pair on each side: what bounds throughput on an idle machine, whatever the load now.
      const nodeCpu = process.cpuUsage(nodeCpuBefore);
      const redisCpu = (await redisCpuSeconds(ledger)) - redisCpuBefore;
      const perPair = (cpuSeconds: number) => ((cpuSeconds * 1e6) / latencies.length).toFixed(1);
      console.error(
        `ledger.redis: ${latencies.length} pairs in ${seconds.toFixed(1)} s; CPU per pair: redis-server ${perPair(redisCpu)} µs, node ${perPair((nodeCpu.user + nodeCpu.system) / 1e6)} µs`,
      );
      // For context: one caller alone (no queueing), and what the two targets imply together: with 50
      // callers in a closed loop, mean latency = 50 / throughput (Little's law).
      const alone: number[] = [];
      for (let i = 0; i < 500; i++) {
        const started = process.hrtime.bigint();
        await reserveCommit(ledger);
        alone.push(Number(process.hrtime.bigint() - started) / 1000);
      }
      console.error(
        `ledger.redis: one caller alone: p50 ${percentile(alone, 0.5).toFixed(0)} µs, p99 ${percentile(alone, 0.99).toFixed(0)} µs per pair; 50 callers: mean ${((CALLERS / (latencies.length / seconds)) * 1e6).toFixed(0)} µs per pair`,
      );
      const tenant = await ledger.getLedger('tenant:acme', 'USD_MICROCENTS');
      if (tenant?.reserved !== 0) throw new Error(`holds left after the run: ${tenant?.reserved}`);
      return {
        'ledger.redis.reserve_commit_per_sec': latencies.length / seconds,
        'ledger.redis.reserve_commit_p99_us': percentile(latencies, 0.99),
      };
    } finally {
      await ledger.close();
      await server.remove();
    }
  },
};

export const benchmarks: Benchmark[] = [hotBudget];
