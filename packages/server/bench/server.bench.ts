import { startRedisServer } from '@cycles-guard/redis/testing';
import { Pool } from 'undici';
import type { Benchmark } from '../../../scripts/bench.ts';
import { percentile } from '../../../scripts/bench-stats.ts';
import { type ServerProcess, startServerProcess } from './server-process.ts';

// HTTP reserves against cycles-guard-server on the Redis ledger. The server runs as its own process (the
// real bin, from source via tsx) so the load generator does not share its event loop; request logging
// is at `warn` (one JSON line per request would measure pino, not the server).

const API_KEY = 'bench-key-000001';
async function startServer(redisUrl: string): Promise<ServerProcess> {
  return startServerProcess({
    ledger: { type: 'redis', url: redisUrl, keyPrefix: `bench:${Date.now()}:` },
    apiKeys: { [API_KEY]: 'acme' },
    // The load holds every reserve it makes (~150,000 live at once): past the default per-tenant bound.
    tenants: { acme: { maxReservations: 10_000_000 } },
    ledgers: [
      { scope: 'tenant:acme', unit: 'TOKENS', allocated: 1e15 },
      { scope: 'tenant:acme/app:chat', unit: 'TOKENS', allocated: 1e15 },
    ],
  });
}

let counter = 0;

/** One live reserve over a keep-alive connection of the pool; resolves with its latency in ms. */
async function reserveOnce(pool: Pool): Promise<number> {
  const body = JSON.stringify({
    idempotency_key: `bench-${process.pid}-${++counter}`,
    subject: { tenant: 'acme', app: 'chat' },
    action: { kind: 'llm.completion', name: 'bench-model' },
    estimate: { unit: 'TOKENS', amount: 10 },
  });
  const started = performance.now();
  const response = await pool.request({
    path: '/v1/reservations',
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', 'x-cycles-api-key': API_KEY },
  });
  await response.body.dump();
  if (response.statusCode !== 200) throw new Error(`reserve answered ${response.statusCode}`);
  return performance.now() - started;
}

/**
 * `clients` loops, each sending reserves back to back for `durationMs` over its own keep-alive
 * connection. The load generator is undici's Pool rather than `node:http`: it shares the 2 cores with
 * the server and Redis, and per request it costs about half as much CPU (~55 against ~118 µs), which
 * otherwise went missing from the server under test.
 */
async function load(
  url: URL,
  clients: number,
  durationMs: number,
): Promise<{ perSecond: number; latencies: number[] }> {
  const pool = new Pool(url.origin, { connections: clients, pipelining: 1 });
  const latencies: number[] = [];
  const deadline = performance.now() + durationMs;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < deadline) latencies.push(await reserveOnce(pool));
    }),
  );
  const elapsed = performance.now() - started;
  await pool.close();
  return { perSecond: (latencies.length / elapsed) * 1000, latencies };
}

const reserves: Benchmark = {
  metrics: {
    'server.reserve_per_sec_c50': { target: 5000, better: 'higher', unit: 'req/s' },
    'server.reserve_p99_ms_c50': { target: 25, better: 'lower', unit: 'ms' },
    'server.reserve_p99_ms_c1': { target: 3, better: 'lower', unit: 'ms' },
  },
  async run() {
    const redis = await startRedisServer();
    const server = await startServer(redis.url);
    try {
      const url = new URL(server.url);
      await load(url, 50, 2000); // warm-up: JIT, Redis function load, sockets
      const c50 = await load(url, 50, 8000);
      await load(url, 1, 500);
      const c1 = await load(url, 1, 4000);
      return {
        'server.reserve_per_sec_c50': c50.perSecond,
        'server.reserve_p99_ms_c50': percentile(c50.latencies, 0.99),
        'server.reserve_p99_ms_c1': percentile(c1.latencies, 0.99),
      };
    } finally {
      await server.stop();
      await redis.remove();
    }
  },
};

export const benchmarks: Benchmark[] = [reserves];
