import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startRedisServer } from '@cycles-guard/redis/testing';
import { Pool } from 'undici';
import type { Benchmark } from '../../../scripts/bench.ts';
import { percentile } from '../../../scripts/bench-stats.ts';
import { DEFAULT_BLOCKED_CIDR_RANGES } from '../src/webhooks/webhook-security.ts';
import { startServerProcess } from './server-process.ts';

// Webhooks must never slow the reserve path. 50 clients reserve on the Redis ledger, each reserve for a
// new user whose template budget it takes past 80 % (so every reserve raises one event), first with no
// subscription, then with one subscription receiving every event at a loopback endpoint; the figure is
// the throughput with over without (runs alternate, twice each). The endpoint also measures each
// event's time from its timestamp to its arrival.

const API_KEY = 'bench-key-webhooks-1';
const ADMIN_KEY = 'bench-admin-key-0123456789';
const RUN_MS = 5000;
let counter = 0;

async function reserveOnce(pool: Pool): Promise<void> {
  counter++;
  const body = JSON.stringify({
    idempotency_key: `wh-${process.pid}-${counter}`,
    subject: { tenant: 'acme', app: 'chat', agent: `user-${counter}` },
    action: { kind: 'llm.completion', name: 'bench-model' },
    estimate: { unit: 'TOKENS', amount: 90 },
  });
  const response = await pool.request({
    path: '/v1/reservations',
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', 'x-cycles-api-key': API_KEY },
  });
  await response.body.dump();
  if (response.statusCode !== 200) throw new Error(`reserve answered ${response.statusCode}`);
}

async function load(origin: string, clients: number, durationMs: number): Promise<number> {
  const pool = new Pool(origin, { connections: clients, pipelining: 1 });
  let done = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < deadline) {
        await reserveOnce(pool);
        done++;
      }
    }),
  );
  const elapsed = performance.now() - started;
  await pool.close();
  return (done / elapsed) * 1000;
}

const webhooks: Benchmark = {
  metrics: {
    'server.webhook_reserve_ratio_c50': { target: 0.9, better: 'higher', unit: 'ratio' },
    'server.webhook_delivery_p50_ms': { target: 100, better: 'lower', unit: 'ms' },
    'server.webhook_delivery_p99_ms': { target: 250, better: 'lower', unit: 'ms' },
  },
  async run() {
    const latencies: number[] = [];
    let measuring = false;
    const endpoint = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        if (measuring) latencies.push(Date.now() - Date.parse(JSON.parse(body).timestamp));
        response.statusCode = 204;
        response.end();
      });
    });
    await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
    const hook = `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/hook`;
    const redis = await startRedisServer();
    const server = await startServerProcess({
      ledger: { type: 'redis', url: redis.url, keyPrefix: `bench-wh:${Date.now()}:` },
      apiKeys: { [API_KEY]: 'acme' },
      adminApiKey: ADMIN_KEY,
      // The receiver is on loopback: http allowed and 127.0.0.0/8 off the blocked ranges, for this run.
      webhookSecurity: {
        allow_http: true,
        blocked_cidr_ranges: DEFAULT_BLOCKED_CIDR_RANGES.filter((range) => range !== '127.0.0.0/8'),
      },
      maxTemplateLedgers: 10_000_000,
      maxTemplateLedgersPerTenant: 10_000_000,
      tenants: { acme: { maxReservations: 10_000_000 } },
      ledgers: [
        { scope: 'tenant:acme', unit: 'TOKENS', allocated: 1e15 },
        { scope: 'tenant:acme/app:chat', unit: 'TOKENS', allocated: 1e15 },
      ],
      templates: [{ pattern: 'tenant:acme/app:chat/agent:*', unit: 'TOKENS', allocated: 100 }],
    });
    const subscribe = async () => {
      const created = await fetch(`${server.url}/v1/admin/webhooks?tenant_id=acme`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-admin-api-key': ADMIN_KEY },
        body: JSON.stringify({
          url: hook,
          event_types: ['budget.threshold_crossed'],
          event_categories: ['budget', 'reservation'],
        }),
      });
      if (created.status !== 201) throw new Error(`subscribe answered ${created.status}`);
      return ((await created.json()) as { subscription: { subscription_id: string } }).subscription
        .subscription_id;
    };
    const unsubscribe = async (id: string) => {
      await fetch(`${server.url}/v1/admin/webhooks/${id}`, {
        method: 'DELETE',
        headers: { 'x-admin-api-key': ADMIN_KEY },
      });
    };
    try {
      await load(server.url, 50, 2000); // warm-up: JIT, Redis function load, sockets
      const without: number[] = [];
      const withHook: number[] = [];
      for (let round = 0; round < 2; round++) {
        without.push(await load(server.url, 50, RUN_MS));
        const id = await subscribe();
        measuring = true;
        withHook.push(await load(server.url, 50, RUN_MS));
        await new Promise((resolve) => setTimeout(resolve, 1000)); // deliveries still in flight
        measuring = false;
        await unsubscribe(id);
      }
      const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
      console.error(
        `webhooks: without ${without.map(Math.round).join(', ')} req/s, with ${withHook.map(Math.round).join(', ')} req/s, ${latencies.length} deliveries`,
      );
      return {
        'server.webhook_reserve_ratio_c50': mean(withHook) / mean(without),
        'server.webhook_delivery_p50_ms': percentile(latencies, 0.5),
        'server.webhook_delivery_p99_ms': percentile(latencies, 0.99),
      };
    } finally {
      await server.stop();
      await redis.remove();
      await new Promise((resolve) => endpoint.close(resolve));
    }
  },
};

export const benchmarks: Benchmark[] = [webhooks];
