import type { Subject } from '@cycles-guard/core';
import { Redis } from 'ioredis';
import type { Benchmark } from '../../../scripts/bench.ts';
import { percentile } from '../../../scripts/bench-stats.ts';
import { createRedisLedger, type RedisLedger } from '../src/index.ts';
import { startRedisCluster, startRedisServer } from '../src/testing/index.ts';

// 50 concurrent callers, each looping reserve → commit on a 3-level budget, with Redis TIME as the
// clock and AOF on (appendfsync everysec): the production setup. On one local redis-server, one hot
// tenant; on a local 3-master + 3-replica cluster, 30 tenants whose hash tags spread over the masters.
// Then one caller alone (no queueing): its p99 per pair, over ALONE_PAIRS pairs.

const ACTION = { kind: 'llm.completion', name: 'bench' };
const CALLERS = 50;
const WARMUP_MS = 2000;
const MEASURE_MS = 10_000;
// A p99 over 500 pairs was their 5th slowest: the few stalls the machine had in the first ~300 ms
// after the 50 callers stopped (the two PINGs' p99 too: 1,014-1,844 µs there, 250-550 later) decided it.
// Over 5,000 it is the 50th slowest, what a lone caller meets one time in a hundred.
const ALONE_PAIRS = 5000;

const subjectOf = (tenant: string): Subject => ({ tenant, workspace: 'prod', app: 'chat' });
const scopesOf = (tenant: string) => [
  `tenant:${tenant}`,
  `tenant:${tenant}/workspace:prod`,
  `tenant:${tenant}/workspace:prod/app:chat`,
];

let sequence = 0;
async function reserveCommit(ledger: RedisLedger, tenant: string): Promise<void> {
  const id = ++sequence;
  const { reservationId } = await ledger.reserve({
    idempotencyKey: `r${id}`,
    subject: subjectOf(tenant),
    action: ACTION,
    estimate: { unit: 'USD_MICROCENTS', amount: 1000 },
  });
  await ledger.commit(reservationId as string, {
    idempotencyKey: `c${id}`,
    actual: { unit: 'USD_MICROCENTS', amount: 700 },
  });
}

/** Where the ledger's data lives: master and replica redis-servers, as `host:port`. */
interface Servers {
  masters: string[];
  replicas: string[];
}

/** CPU seconds used so far by the masters and by the replicas (INFO cpu of each). */
async function redisCpuSeconds(servers: Servers): Promise<{ masters: number; replicas: number }> {
  const cpuOf = async (node: string) => {
    const [host, port] = node.split(':');
    const client = new Redis(Number(port), host!, { maxRetriesPerRequest: 1 });
    try {
      const info = await client.info('cpu');
      const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? Number.NaN);
      return field('used_cpu_user') + field('used_cpu_sys');
    } finally {
      client.disconnect();
    }
  };
  const sum = async (nodes: string[]) => (await Promise.all(nodes.map(cpuOf))).reduce((a, b) => a + b, 0);
  return { masters: await sum(servers.masters), replicas: await sum(servers.replicas) };
}

/** Runs every caller until `untilMs`; returns each pair's latency in µs. */
async function drive(ledger: RedisLedger, tenants: string[], untilMs: number): Promise<number[]> {
  const latencies: number[] = [];
  const caller = async (index: number) => {
    const tenant = tenants[index % tenants.length]!;
    while (Date.now() < untilMs) {
      const started = process.hrtime.bigint();
      await reserveCommit(ledger, tenant);
      latencies.push(Number(process.hrtime.bigint() - started) / 1000);
    }
  };
  await Promise.all(Array.from({ length: CALLERS }, (_, index) => caller(index)));
  return latencies;
}

/** Measures 50 callers, then one alone; prints CPU per pair; answers pairs/s and the lone p99 (µs). */
async function measure(label: string, ledger: RedisLedger, tenants: string[], servers: Servers) {
  for (const tenant of tenants) {
    for (const scope of scopesOf(tenant))
      await ledger.createLedger({ scope, unit: 'USD_MICROCENTS', allocated: 1e15 });
  }
  await drive(ledger, tenants, Date.now() + WARMUP_MS);
  const redisBefore = await redisCpuSeconds(servers);
  const nodeBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  const latencies = await drive(ledger, tenants, Date.now() + MEASURE_MS);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  // CPU per pair on each side: what bounds throughput on an idle machine, whatever the load now.
  const node = process.cpuUsage(nodeBefore);
  const redisAfter = await redisCpuSeconds(servers);
  const perPair = (cpuSeconds: number) => ((cpuSeconds * 1e6) / latencies.length).toFixed(1);
  const replicas = redisAfter.replicas - redisBefore.replicas;
  console.error(
    `${label}: ${latencies.length} pairs in ${seconds.toFixed(1)} s; CPU per pair: redis-server masters ${perPair(redisAfter.masters - redisBefore.masters)} µs${replicas > 0 ? `, replicas ${perPair(replicas)} µs` : ''}, node ${perPair((node.user + node.system) / 1e6)} µs; 50 callers: p99 ${percentile(latencies, 0.99).toFixed(0)} µs`,
  );
  const alone: number[] = [];
  // The reference: two PINGs on the same connection after each pair (a pair is two round trips). On a
  // shared machine their tail is the scheduler's, so a pair's p99 is only ours beyond theirs.
  const pings: number[] = [];
  for (let i = 0; i < ALONE_PAIRS; i++) {
    const pairStarted = process.hrtime.bigint();
    await reserveCommit(ledger, tenants[i % tenants.length]!);
    alone.push(Number(process.hrtime.bigint() - pairStarted) / 1000);
    const pingStarted = process.hrtime.bigint();
    await ledger.client.ping();
    await ledger.client.ping();
    pings.push(Number(process.hrtime.bigint() - pingStarted) / 1000);
  }
  console.error(
    `${label}: one caller alone: p50 ${percentile(alone, 0.5).toFixed(0)} µs, p99 ${percentile(alone, 0.99).toFixed(0)} µs per pair (two PINGs: p50 ${percentile(pings, 0.5).toFixed(0)} µs, p99 ${percentile(pings, 0.99).toFixed(0)} µs)`,
  );
  for (const tenant of tenants) {
    const state = await ledger.getLedger(`tenant:${tenant}`, 'USD_MICROCENTS');
    if (state?.reserved !== 0) throw new Error(`holds left after the run: ${state?.reserved}`);
  }
  return { perSec: latencies.length / seconds, aloneP99: percentile(alone, 0.99) };
}

const hotBudget: Benchmark = {
  metrics: {
    'ledger.redis.reserve_commit_per_sec': { target: 10_000, better: 'higher', unit: 'pairs/s' },
    'ledger.redis.reserve_commit_p99_us_c1': { target: 1000, better: 'lower', unit: 'µs' },
  },
  async run() {
    const server = await startRedisServer();
    // One tenant ends ~10,000 reservations a second: past its bound its own oldest go at once (else 429).
    const ledger = createRedisLedger({ url: server.url, keyPrefix: 'bench:', reservationReplayWindowMs: 0 });
    try {
      const servers = { masters: [`127.0.0.1:${server.port}`], replicas: [] };
      const { perSec, aloneP99 } = await measure('ledger.redis', ledger, ['acme'], servers);
      return {
        'ledger.redis.reserve_commit_per_sec': perSec,
        'ledger.redis.reserve_commit_p99_us_c1': aloneP99,
      };
    } finally {
      await ledger.close();
      await server.remove();
    }
  },
};

const TENANTS = Array.from({ length: 30 }, (_, i) => `tenant${i}`);

// Informational (no target): 6 redis-servers on this machine's 2 cores cannot be faster than one (issue
// 20); the README's shard model turns their CPU per pair into what a real cluster would do.
const cluster: Benchmark = {
  metrics: {
    'ledger.redis.cluster.reserve_commit_per_sec': { better: 'higher', unit: 'pairs/s' },
    'ledger.redis.cluster.reserve_commit_p99_us_c1': { better: 'lower', unit: 'µs' },
    // The same with waitForReplicas: 1 (WAIT for the replica after each write): what closing the
    // lost-acknowledged-write window costs.
    'ledger.redis.cluster.wait1.reserve_commit_per_sec': { better: 'higher', unit: 'pairs/s' },
    'ledger.redis.cluster.wait1.reserve_commit_p99_us_c1': { better: 'lower', unit: 'µs' },
  },
  async run() {
    const nodes = await startRedisCluster();
    const open = (keyPrefix: string, waitForReplicas: number) =>
      createRedisLedger({ cluster: nodes.nodes, keyPrefix, reservationReplayWindowMs: 0, waitForReplicas });
    const plain = open('bench:', 0);
    const waited = open('bench-wait:', 1);
    try {
      const masters = await nodes.masters();
      const servers = { masters, replicas: nodes.nodes.filter((node) => !masters.includes(node)) };
      const fast = await measure('ledger.redis.cluster', plain, TENANTS, servers);
      await plain.close();
      const safe = await measure('ledger.redis.cluster.wait1', waited, TENANTS, servers);
      return {
        'ledger.redis.cluster.reserve_commit_per_sec': fast.perSec,
        'ledger.redis.cluster.reserve_commit_p99_us_c1': fast.aloneP99,
        'ledger.redis.cluster.wait1.reserve_commit_per_sec': safe.perSec,
        'ledger.redis.cluster.wait1.reserve_commit_p99_us_c1': safe.aloneP99,
      };
    } finally {
      await Promise.all([plain.close(), waited.close()]);
      await nodes.remove();
    }
  },
};

export const benchmarks: Benchmark[] = [hotBudget, cluster];
