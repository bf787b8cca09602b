import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CyclesEvent, createCycles, createHttpAuthority } from '@cycles-guard/core';
import { createRedisLedger } from '@cycles-guard/redis';
import { type RedisServer, startRedisServer } from '@cycles-guard/redis/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The settlement outbox of a client of `cycles-guard-server` (Redis behind it): the server is
// SIGKILLed while calls commit, and restarted; every charge is recorded once, none twice.

const CLI = new URL('../src/cli.ts', import.meta.url).pathname;
const PREFIX = 'outbox-server:';
const MODEL = 'test.model-v1';
const PRICES = {
  [MODEL]: { inputPerMillion: 1_000_000, outputPerMillion: 4_000_000, maxOutputTokens: 1000 },
};
const children: ChildProcess[] = [];
let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedisServer({ appendfsync: 'always' });
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await redis?.remove();
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/** Starts the real bin on `port` over the test's Redis; resolves once it answers /health. */
async function startServer(port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--conditions=@cycles-guard/source', '--import', 'tsx', CLI], {
    env: {
      ...process.env,
      CYCLES_SERVER_HOST: '127.0.0.1',
      CYCLES_SERVER_PORT: String(port),
      CYCLES_REDIS_URL: redis.url,
      CYCLES_REDIS_KEY_PREFIX: PREFIX,
      CYCLES_SERVER_API_KEYS: 'outbox-key-0001=acme',
      CYCLES_LOG_LEVEL: 'silent',
    },
    stdio: 'ignore',
  });
  children.push(child);
  for (let waited = 0; waited < 20_000; waited += 50) {
    const up = await fetch(`http://127.0.0.1:${port}/health`).then(
      (response) => response.ok,
      () => false,
    );
    if (up) return child;
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('cycles-guard-server did not start');
}

describe('settlement outbox over HTTP', () => {
  it('recovers commits made while the server was SIGKILLed, once it is back: each charged once', async () => {
    const admin = createRedisLedger({ url: redis.url, keyPrefix: PREFIX, sweepIntervalMs: 0 });
    await admin.createLedger({ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 100_000_000 });
    const port = await freePort();
    let server = await startServer(port);
    const events: CyclesEvent[] = [];
    const cycles = createCycles({
      authority: createHttpAuthority({
        baseUrl: `http://127.0.0.1:${port}`,
        apiKey: 'outbox-key-0001',
        timeoutMs: 500,
      }),
      subject: { tenant: 'acme' },
      prices: PRICES,
      heartbeat: false,
      retry: { attempts: 2, baseDelayMs: 50 },
      outbox: { directory: await mkdtemp(join(tmpdir(), 'cycles-outbox-http-')), replayIntervalMs: 100 },
      onEvent: (event) => {
        events.push(event);
      },
    });
    const calls = await Promise.all(
      Array.from({ length: 10 }, () => cycles.beginLlmCall({ model: MODEL, inputTokens: 100 })),
    );
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGKILL');
    await exited;
    const settlements = await Promise.allSettled(
      calls.map((call, index) => call.commit({ inputTokens: 100, outputTokens: index + 1 })),
    );
    expect(settlements.every((settlement) => settlement.status === 'rejected')).toBe(true);
    expect(events.filter((event) => event.type === 'settlement-queued')).toHaveLength(10);
    const started = Date.now();
    await expect(cycles.beginLlmCall({ model: MODEL, inputTokens: 100 })).rejects.toMatchObject({
      code: 'AUTHORITY_UNAVAILABLE',
    });
    expect(Date.now() - started).toBeLessThan(2_000);
    server = await startServer(port);
    expect(await cycles.flushSettlements(20_000)).toEqual({ pending: 0 });
    const expected = calls.reduce((total, _call, index) => total + 100 + 4 * (index + 1), 0);
    expect(await admin.getLedger('tenant:acme', 'USD_MICROCENTS')).toMatchObject({
      spent: expected,
      reserved: 0,
    });
    expect(await cycles.flushSettlements(2_000)).toEqual({ pending: 0 });
    expect((await admin.getLedger('tenant:acme', 'USD_MICROCENTS'))?.spent).toBe(expected);
    await cycles.close();
    await admin.close();
    server.kill('SIGTERM');
  });
});
