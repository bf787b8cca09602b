import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Cycles, type CyclesEvent, createCycles } from '@cycles-guard/core';
import type { OutboxEntry } from '@cycles-guard/core/ledger-kit';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisLedger, createRedisOutbox, type RedisLedger } from '../src/index.ts';
import { type RedisServer, startRedisServer } from '../src/testing/index.ts';

// The settlement outbox with a real redis-server going away (SIGSTOP, SIGKILL + AOF restart) and a
// calling process SIGKILLed before it commits: every charge is recorded once the authority is back.

const here = dirname(fileURLToPath(import.meta.url));
const PREFIX = 'outbox:';
const MODEL = 'test.model-v1';
const PRICES = {
  [MODEL]: { inputPerMillion: 1_000_000, outputPerMillion: 4_000_000, maxOutputTokens: 1000 },
};

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup() {
  const server = await startRedisServer({ appendfsync: 'always' });
  cleanups.push(() => server.remove());
  const admin = open(server.url, 10_000);
  await admin.createLedger({ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 100_000_000 });
  const directory = await mkdtemp(join(tmpdir(), 'cycles-outbox-redis-'));
  return { server, admin, directory };
}

function open(url: string, operationTimeoutMs: number): RedisLedger {
  const ledger = createRedisLedger({ url, keyPrefix: PREFIX, operationTimeoutMs, sweepIntervalMs: 0 });
  cleanups.push(() => ledger.close());
  return ledger;
}

function guarded(url: string, directory: string, events: CyclesEvent[] = []): Cycles {
  const cycles = createCycles({
    authority: open(url, 300),
    subject: { tenant: 'acme' },
    prices: PRICES,
    heartbeat: false,
    retry: { attempts: 2, baseDelayMs: 50 },
    outbox: { directory, replayIntervalMs: 100 },
    onEvent: (event) => {
      events.push(event);
    },
  });
  cleanups.push(() => cycles.close());
  return cycles;
}

async function spent(ledger: RedisLedger): Promise<number> {
  return (await ledger.getLedger('tenant:acme', 'USD_MICROCENTS'))?.spent ?? -1;
}

/** Commits `calls` LLM calls while Redis is down (`down`), then brings it back (`up`); answers the usage charged. */
async function settleThroughOutage(
  server: RedisServer,
  cycles: Cycles,
  down: () => Promise<void> | void,
  up: () => Promise<void> | void,
) {
  const calls = await Promise.all(
    Array.from({ length: 20 }, () => cycles.beginLlmCall({ model: MODEL, inputTokens: 100 })),
  );
  await down();
  const settlements = await Promise.allSettled(
    calls.map((call, index) => call.commit({ inputTokens: 100, outputTokens: index + 1 })),
  );
  expect(settlements.every((settlement) => settlement.status === 'rejected')).toBe(true);
  // Fail closed while it is down, well within 2 s.
  const started = Date.now();
  await expect(cycles.beginLlmCall({ model: MODEL, inputTokens: 100 })).rejects.toMatchObject({
    code: 'AUTHORITY_UNAVAILABLE',
  });
  expect(Date.now() - started).toBeLessThan(2_000);
  await up();
  void server;
  return calls.reduce((total, _call, index) => total + 100 + 4 * (index + 1), 0);
}

describe('settlement outbox on Redis', () => {
  it('recovers commits made while Redis was frozen (SIGSTOP): each charged exactly once', async () => {
    const { server, admin, directory } = await setup();
    const events: CyclesEvent[] = [];
    const cycles = guarded(server.url, directory, events);
    const expected = await settleThroughOutage(
      server,
      cycles,
      () => server.pause(),
      () => server.resume(),
    );
    expect(events.filter((event) => event.type === 'settlement-queued')).toHaveLength(20);
    expect(await cycles.flushSettlements(20_000)).toEqual({ pending: 0 });
    expect(await spent(admin)).toBe(expected);
    // Only the fail-closed probe's reserve may still be held: sent into the frozen server, it ran on
    // resume after its caller had given up, and expires on its own (it was never granted to a call).
    expect([0, 4_100]).toContain((await admin.getLedger('tenant:acme', 'USD_MICROCENTS'))?.reserved);
    // A second flush, or a new process on the same journal, charges nothing more.
    expect(await guarded(server.url, directory).flushSettlements(5_000)).toEqual({ pending: 0 });
    expect(await spent(admin)).toBe(expected);
  });

  it('recovers commits made while Redis was killed (SIGKILL) and restarted from its AOF', async () => {
    const { server, admin, directory } = await setup();
    const cycles = guarded(server.url, directory);
    const expected = await settleThroughOutage(
      server,
      cycles,
      () => server.crash(),
      async () => {
        await server.restart();
      },
    );
    expect(await cycles.flushSettlements(20_000)).toEqual({ pending: 0 });
    expect(await spent(admin)).toBe(expected);
  });

  it('charges the holds of a process SIGKILLed between the provider answer and the commit, after a restart', async () => {
    const { server, admin, directory } = await setup();
    const child = spawn(
      process.execPath,
      [
        '--conditions=@cycles-guard/source',
        '--import',
        'tsx',
        join(here, 'support/die-before-commit.ts'),
        server.url,
        PREFIX,
        directory,
        '5',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const answered = await new Promise<[string, number][]>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk) => {
        out += String(chunk);
        const line = /answered (\[.*\])\n/.exec(out);
        if (line?.[1] !== undefined) resolve(JSON.parse(line[1]) as [string, number][]);
      });
      child.once('exit', (code) => reject(new Error(`child exited with ${code} before answering`)));
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    const held = answered.reduce((total, [, amount]) => total + amount, 0);
    expect((await admin.getLedger('tenant:acme', 'USD_MICROCENTS'))?.reserved).toBe(held);
    const events: CyclesEvent[] = [];
    const restarted = guarded(server.url, directory, events);
    expect(await restarted.flushSettlements(20_000)).toEqual({ pending: 0 });
    expect(await admin.getLedger('tenant:acme', 'USD_MICROCENTS')).toMatchObject({
      spent: held,
      reserved: 0,
    });
    expect(events.filter((event) => event.type === 'settlement-replayed' && event.fromIntent)).toHaveLength(
      5,
    );
    expect(await guarded(server.url, directory).flushSettlements(5_000)).toEqual({ pending: 0 });
    expect(await spent(admin)).toBe(held);
  });

  it('keeps entries in Redis for any instance to replay, and quarantines a corrupt one', async () => {
    const { server, admin, directory } = await setup();
    const client = new Redis(server.url);
    cleanups.push(async () => {
      client.disconnect();
    });
    const store = createRedisOutbox(client, { keyPrefix: PREFIX, timeoutMs: 2_000 });
    const reservation = await admin.reserve({
      idempotencyKey: 'shared-hold',
      subject: { tenant: 'acme' },
      action: { kind: 'custom', name: 'x' },
      estimate: { unit: 'USD_MICROCENTS', amount: 900 },
    });
    const entry: OutboxEntry = {
      version: 1,
      key: 'shared-hold',
      state: 'queued',
      operation: 'commit',
      reservationId: reservation.reservationId ?? '',
      idempotencyKey: 'shared-hold:commit',
      subject: { tenant: 'acme' },
      action: { kind: 'custom', name: 'x' },
      unit: 'USD_MICROCENTS',
      amount: 600,
      reserved: 900,
      firstAttemptAtMs: Date.now(),
    };
    await store.put(entry, true);
    await client.hset(`${PREFIX}outbox`, 'broken', '{"version":1');
    expect((await store.list()).map((item) => item.key)).toEqual(['shared-hold']);
    expect(Object.values(await client.hgetall(`${PREFIX}outbox:quarantine`))).toEqual(['{"version":1']);
    // Another instance (its own, empty file journal) finds it in Redis.
    const other = guarded(server.url, await mkdtemp(join(tmpdir(), 'cycles-outbox-other-')));
    void directory;
    expect(await other.flushSettlements(10_000)).toEqual({ pending: 0 });
    expect(await admin.getLedger('tenant:acme', 'USD_MICROCENTS')).toMatchObject({ spent: 600, reserved: 0 });
    expect(await store.list()).toEqual([]);
  });
});
