// Torture scenario `settlement`: no charge is lost to an outage or a crash. Against a real redis-server
// and a real cycles-guard-server it measures what the settlement outbox recovers after a 30 s Redis
// freeze under load, after calling processes are SIGKILLed between the provider's answer and the
// commit, and after the HTTP server is SIGKILLed; plus how long a guarded call takes to fail closed.
// Every billed call is then checked one by one against the ledger: lost and double charges must be 0.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type BudgetAuthority,
  type Cycles,
  type CyclesEvent,
  createCycles,
  createHttpAuthority,
} from '../../packages/core/src/index.ts';
import { createRedisLedger, type RedisLedger } from '../../packages/redis/src/index.ts';
import { type RedisServer, startRedisServer } from '../../packages/redis/src/testing/index.ts';

const here = new URL('.', import.meta.url).pathname;
const MODEL = 'test.model-v1';
/** 1 µ¢ per input token, 4 µ¢ per output token: every call's charge is 100 + 4 × output tokens. */
const PRICES = {
  [MODEL]: { inputPerMillion: 1_000_000, outputPerMillion: 4_000_000, maxOutputTokens: 1000 },
};
const UNIT = 'USD_MICROCENTS';
const OUTAGE_MS = 30_000;
const WORKERS = 16;

/** A billed call: what the ledger must end up holding for it. */
interface Billed {
  reservationId: string;
  expected: number;
}

type Log = (line: string) => void;

/** mulberry32: a small seeded generator, so a seed replays the same usages and timings. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function guarded(authority: BudgetAuthority, directory: string, events: CyclesEvent[]): Cycles {
  return createCycles({
    authority,
    subject: { tenant: 'acme' },
    prices: PRICES,
    heartbeat: false,
    retry: { attempts: 2, baseDelayMs: 100 },
    outbox: { directory, replayIntervalMs: 500 },
    onEvent: (event) => {
      events.push(event);
    },
  });
}

/** Checks each billed call against the ledger: committed at its charge, or (hold gone) posted as an event. */
async function audit(ledger: RedisLedger, billed: Billed[], events: CyclesEvent[], prefix: string) {
  let lost = 0;
  let doubled = 0;
  let expectedTotal = 0;
  const viaEvent = new Set(
    events.flatMap((event) =>
      event.type === 'settlement-replayed' && event.viaEvent ? [event.reservationId] : [],
    ),
  );
  for (const call of billed) {
    expectedTotal += call.expected;
    const detail = await ledger.getReservation(call.reservationId).catch(() => undefined);
    const committed = detail?.status === 'COMMITTED' ? (detail.committed?.amount ?? 0) : 0;
    const charged = committed + (viaEvent.has(call.reservationId) ? call.expected : 0);
    if (charged < call.expected) lost++;
    if (charged > call.expected) doubled++;
  }
  const spent = (await ledger.getLedger('tenant:acme', UNIT))?.spent ?? 0;
  // Anything charged that no billed call accounts for (e.g. an event beside a landed commit).
  if (spent > expectedTotal && doubled === 0) doubled++;
  return { lost, doubled, spent, expectedTotal, prefix };
}

/** A guarded call that must be refused while the authority is down: answers how long the refusal took. */
async function failClosedMs(cycles: Cycles): Promise<number> {
  const started = Date.now();
  try {
    const call = await cycles.beginLlmCall({ model: MODEL, inputTokens: 100 });
    await call.fail(new Error('not sent'), { reachedProvider: false }).catch(() => {});
    throw new Error('a guarded call was granted while the authority was down');
  } catch (error) {
    if ((error as { code?: string }).code !== 'AUTHORITY_UNAVAILABLE') throw error;
  }
  return Date.now() - started;
}

/** Load on the Redis ledger through a 30 s SIGSTOP of redis-server. */
async function redisOutage(redis: RedisServer, seed: number, log: Log) {
  const prefix = 'torture-settlement-outage:';
  const admin = createRedisLedger({
    url: redis.url,
    keyPrefix: prefix,
    sweepIntervalMs: 0,
    operationTimeoutMs: 10_000,
  });
  await admin.createLedger({ scope: 'tenant:acme', unit: UNIT, allocated: 10_000_000_000 });
  const events: CyclesEvent[] = [];
  const authority = createRedisLedger({
    url: redis.url,
    keyPrefix: prefix,
    sweepIntervalMs: 0,
    operationTimeoutMs: 500,
  });
  const cycles = guarded(authority, await mkdtemp(join(tmpdir(), 'torture-outbox-')), events);
  const next = random(seed);
  const billed: Billed[] = [];
  let refusedMaxMs = 0;
  let down = false;
  let stop = false;
  const worker = async () => {
    while (!stop) {
      const started = Date.now();
      let call: Awaited<ReturnType<Cycles['beginLlmCall']>>;
      try {
        call = await cycles.beginLlmCall({ model: MODEL, inputTokens: 100 });
      } catch (error) {
        if ((error as { code?: string }).code !== 'AUTHORITY_UNAVAILABLE') throw error;
        if (down) refusedMaxMs = Math.max(refusedMaxMs, Date.now() - started);
        await sleep(100);
        continue;
      }
      await sleep(5 + Math.floor(next() * 45)); // the provider call
      const outputTokens = 1 + Math.floor(next() * 1000);
      billed.push({ reservationId: call.reservationId, expected: 100 + 4 * outputTokens });
      await call.commit({ inputTokens: 100, outputTokens }).catch(() => {}); // queued if it cannot be confirmed
    }
  };
  const workers = Array.from({ length: WORKERS }, worker);
  await sleep(3_000);
  log(`settlement: redis frozen (SIGSTOP) for ${OUTAGE_MS / 1000} s under ${WORKERS} concurrent calls`);
  redis.pause();
  down = true;
  await sleep(OUTAGE_MS);
  redis.resume();
  down = false;
  await sleep(3_000);
  stop = true;
  await Promise.all(workers);
  const flushed = await cycles.flushSettlements(60_000);
  const queued = new Set(
    events.flatMap((event) => (event.type === 'settlement-queued' ? [event.reservationId] : [])),
  );
  const replayed = new Set(
    events.flatMap((event) => (event.type === 'settlement-replayed' ? [event.reservationId] : [])),
  );
  const recovered = [...queued].filter((id) => replayed.has(id)).length;
  const result = await audit(admin, billed, events, prefix);
  log(
    `settlement: outage: ${billed.length} billed calls, ${queued.size} queued, ${recovered} replayed, ` +
      `${flushed.pending} pending; spent ${result.spent} of ${result.expectedTotal} expected`,
  );
  await cycles.close();
  await admin.close();
  return { recovered, queued: queued.size, billed: billed.length, refusedMaxMs, ...result };
}

/** Children SIGKILLed between the provider's answer and the commit; a new process replays their intents. */
async function sigkilledCallers(redis: RedisServer, seed: number, log: Log) {
  const prefix = 'torture-settlement-sigkill:';
  const admin = createRedisLedger({
    url: redis.url,
    keyPrefix: prefix,
    sweepIntervalMs: 0,
    operationTimeoutMs: 10_000,
  });
  await admin.createLedger({ scope: 'tenant:acme', unit: UNIT, allocated: 10_000_000_000 });
  const next = random(seed ^ 0x5eed);
  const billed: Billed[] = [];
  const events: CyclesEvent[] = [];
  for (let round = 0; round < 3; round++) {
    const directory = await mkdtemp(join(tmpdir(), 'torture-sigkill-'));
    const calls = 5 + Math.floor(next() * 10);
    const child = spawn(
      process.execPath,
      [
        '--conditions=@cycles-guard/source',
        '--import',
        'tsx',
        // The Redis package's own kill-before-commit child (its outbox test runs it too).
        join(here, '../../packages/redis/test/support/die-before-commit.ts'),
        redis.url,
        prefix,
        directory,
        String(calls),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const answered = await new Promise<[string, number][]>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (chunk) => {
        out += String(chunk);
        const line = /answered (\[.*\])\n/.exec(out);
        if (line?.[1] !== undefined) resolve(JSON.parse(line[1]) as [string, number][]);
      });
      child.once('exit', (code) =>
        reject(new Error(`settlement child exited with ${code} before answering`)),
      );
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    // Usage unknown after the crash: the never-$0 rule charges the whole hold.
    for (const [reservationId, reserved] of answered) billed.push({ reservationId, expected: reserved });
    const restarted = guarded(
      createRedisLedger({ url: redis.url, keyPrefix: prefix, sweepIntervalMs: 0, operationTimeoutMs: 2_000 }),
      directory,
      events,
    );
    await restarted.flushSettlements(30_000);
    await restarted.close();
  }
  const recovered = events.filter((event) => event.type === 'settlement-replayed' && event.fromIntent).length;
  const result = await audit(admin, billed, events, prefix);
  log(
    `settlement: sigkill: ${billed.length} calls killed before their commit, ${recovered} charged after restart`,
  );
  await admin.close();
  return { recovered, billed: billed.length, ...result };
}

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

async function startServer(redis: RedisServer, port: number, prefix: string): Promise<ChildProcess> {
  const cli = join(here, '../../packages/server/src/cli.ts');
  const child = spawn(process.execPath, ['--conditions=@cycles-guard/source', '--import', 'tsx', cli], {
    env: {
      ...process.env,
      CYCLES_SERVER_HOST: '127.0.0.1',
      CYCLES_SERVER_PORT: String(port),
      CYCLES_REDIS_URL: redis.url,
      CYCLES_REDIS_KEY_PREFIX: prefix,
      CYCLES_SERVER_API_KEYS: 'torture-key-0001=acme',
      CYCLES_LOG_LEVEL: 'silent',
    },
    stdio: 'ignore',
  });
  for (let waited = 0; waited < 30_000; waited += 50) {
    const up = await fetch(`http://127.0.0.1:${port}/health`).then(
      (response) => response.ok,
      () => false,
    );
    if (up) return child;
    if (child.exitCode !== null) break;
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error('cycles-guard-server did not start');
}

/** Calls committing while cycles-guard-server is SIGKILLed; the server comes back, the outbox replays. */
async function serverKill(redis: RedisServer, seed: number, log: Log) {
  const prefix = 'torture-settlement-http:';
  const admin = createRedisLedger({
    url: redis.url,
    keyPrefix: prefix,
    sweepIntervalMs: 0,
    operationTimeoutMs: 10_000,
  });
  await admin.createLedger({ scope: 'tenant:acme', unit: UNIT, allocated: 10_000_000_000 });
  const port = await freePort();
  let server = await startServer(redis, port, prefix);
  const events: CyclesEvent[] = [];
  const cycles = guarded(
    createHttpAuthority({ baseUrl: `http://127.0.0.1:${port}`, apiKey: 'torture-key-0001', timeoutMs: 500 }),
    await mkdtemp(join(tmpdir(), 'torture-http-')),
    events,
  );
  const next = random(seed ^ 0x4477);
  const calls = await Promise.all(
    Array.from({ length: 10 + Math.floor(next() * 10) }, () =>
      cycles.beginLlmCall({ model: MODEL, inputTokens: 100 }),
    ),
  );
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGKILL');
  await exited;
  const billed: Billed[] = [];
  await Promise.all(
    calls.map((call) => {
      const outputTokens = 1 + Math.floor(next() * 1000);
      billed.push({ reservationId: call.reservationId, expected: 100 + 4 * outputTokens });
      return call.commit({ inputTokens: 100, outputTokens }).catch(() => {});
    }),
  );
  let refusedMaxMs = 0;
  for (let probe = 0; probe < 5; probe++) refusedMaxMs = Math.max(refusedMaxMs, await failClosedMs(cycles));
  server = await startServer(redis, port, prefix);
  await cycles.flushSettlements(30_000);
  const recovered = events.filter((event) => event.type === 'settlement-replayed').length;
  const queued = events.filter((event) => event.type === 'settlement-queued').length;
  const result = await audit(admin, billed, events, prefix);
  log(
    `settlement: server kill: ${billed.length} commits during the outage, ${queued} queued, ${recovered} replayed`,
  );
  await cycles.close();
  server.kill('SIGTERM');
  await admin.close();
  return { recovered, queued, refusedMaxMs, billed: billed.length, ...result };
}

export default {
  name: 'settlement',
  async run({
    seed,
    log,
  }: {
    seed: number;
    log: (line: string) => void;
  }): Promise<Record<string, number | string>> {
    const redis = await startRedisServer({ appendfsync: 'always' });
    try {
      const outage = await redisOutage(redis, seed, log);
      const killed = await sigkilledCallers(redis, seed, log);
      const http = await serverKill(redis, seed, log);
      return {
        charges_recovered_after_redis_outage: `${outage.recovered}/${outage.queued}`,
        charges_recovered_after_sigkill: `${killed.recovered}/${killed.billed}`,
        charges_recovered_after_server_kill: `${http.recovered}/${http.queued}`,
        fail_closed_max_ms: Math.max(outage.refusedMaxMs, http.refusedMaxMs),
        billed_calls: outage.billed + killed.billed + http.billed,
        lost_charges: outage.lost + killed.lost + http.lost,
        double_charges: outage.doubled + killed.doubled + http.doubled,
      };
    } finally {
      await redis.remove();
    }
  },
};
