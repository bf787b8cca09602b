import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCycles } from '@cycles-guard/core';
import express from 'express';
import type { Benchmark } from '../../../scripts/bench.ts';
import { median, nowMicros } from '../../../scripts/bench-stats.ts';
import { cyclesErrorHandler, cyclesMiddleware } from '../src/index.ts';

/** A JSON endpoint behind nothing, behind cyclesMiddleware without headers, and with them. */
async function listen(variant: 'plain' | 'context' | 'headers'): Promise<{ url: string; server: Server }> {
  const cycles = createCycles({
    heartbeat: false,
    ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 1e15 }],
  });
  const app = express();
  if (variant !== 'plain') {
    app.use(
      cyclesMiddleware({
        cycles,
        subject: (request) => ({ tenant: request.get('x-tenant') }),
        budgetHeaders: variant === 'headers',
      }),
    );
  }
  app.get('/ping', (_request, response) => {
    response.json({ ok: true });
  });
  app.use(cyclesErrorHandler());
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ping`, server };
}

const overhead: Benchmark = {
  metrics: {
    'express.middleware_overhead_us_p50': { target: 150, better: 'lower', unit: 'µs' },
    'express.budget_headers_us_p50': { target: 100, better: 'lower', unit: 'µs' },
  },
  async run() {
    const variants = await Promise.all([listen('plain'), listen('context'), listen('headers')]);
    const timed = async (url: string) => {
      const started = nowMicros();
      const response = await fetch(url, { headers: { 'x-tenant': 'acme' } });
      await response.arrayBuffer();
      if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
      return nowMicros() - started;
    };
    const times: number[][] = [[], [], []];
    for (let i = 0; i < 300; i++) for (const variant of variants) await timed(variant.url);
    // Interleaved, rotating the order, so drift, GC and socket reuse hit every variant alike.
    for (let i = 0; i < 3000; i++) {
      for (let k = 0; k < 3; k++) {
        const index = (i + k) % 3;
        times[index]!.push(await timed(variants[index]!.url));
      }
    }
    for (const variant of variants) variant.server.close();
    const [plain, context, headers] = times.map(median) as [number, number, number];
    return {
      'express.middleware_overhead_us_p50': headers - plain,
      'express.budget_headers_us_p50': headers - context,
    };
  },
};

/** Per-request cost of cyclesMiddleware over HTTP, and the share of the budget-header balance read. */
export const benchmarks: Benchmark[] = [overhead];
