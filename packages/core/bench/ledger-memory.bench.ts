import type { Benchmark } from '../../../scripts/bench.ts';
import { percentile } from '../../../scripts/bench-stats.ts';
import { ManualClock } from '../src/clock.ts';
import { createMemoryLedger } from '../src/ledger/memory-ledger.ts';
import type { Ledger } from '../src/ledger/types.ts';
import type { Subject } from '../src/protocol/types.ts';

// The ledger.memory metrics: sequential reserve+commit pairs on a 3-level subject (throughput and
// p99 per pair), 1,000 concurrent callers on one shared budget (each reserve is followed by its commit,
// so the count is conservative), and heap growth over 1,000,000 settled reservations once every
// retention window has passed. Wall-clock figures: on a shared machine, note the load with them.

const SUBJECT: Subject = { tenant: 'acme', workspace: 'prod', app: 'chat' };
const SCOPES = ['tenant:acme', 'tenant:acme/workspace:prod', 'tenant:acme/workspace:prod/app:chat'];
const ACTION = { kind: 'llm.completion', name: 'bench' };

function benchLedger(clock?: ManualClock): Ledger {
  return createMemoryLedger({
    ...(clock ? { clock } : {}),
    sweepIntervalMs: 0,
    // One tenant ends hundreds of thousands of reservations a second here: past its bound (50,000) its
    // own oldest finished ones go at once instead of waiting out the replay window (else 429).
    reservationReplayWindowMs: 0,
    ledgers: SCOPES.map((scope) => ({ scope, unit: 'USD_MICROCENTS', allocated: 1e15 })),
  });
}

let sequence = 0;
async function reserveCommit(ledger: Ledger): Promise<void> {
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

const sequential: Benchmark = {
  metrics: {
    'ledger.memory.reserve_commit_per_sec': { target: 200_000, better: 'higher', unit: 'pairs/s' },
    'ledger.memory.reserve_commit_p99_us': { target: 50, better: 'lower', unit: 'µs' },
  },
  async run() {
    const ledger = benchLedger();
    for (let i = 0; i < 50_000; i++) await reserveCommit(ledger); // warm-up
    const pairs = 300_000;
    const latencies = new Float64Array(pairs);
    const started = process.hrtime.bigint();
    let previous = started;
    for (let i = 0; i < pairs; i++) {
      await reserveCommit(ledger);
      const now = process.hrtime.bigint();
      latencies[i] = Number(now - previous) / 1000;
      previous = now;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await ledger.close?.();
    return {
      'ledger.memory.reserve_commit_per_sec': pairs / seconds,
      'ledger.memory.reserve_commit_p99_us': percentile(Array.from(latencies), 0.99),
    };
  },
};

const concurrent: Benchmark = {
  metrics: {
    'ledger.memory.concurrent_reserve_per_sec': { target: 100_000, better: 'higher', unit: 'reserves/s' },
  },
  async run() {
    const ledger = benchLedger();
    const callers = 1000;
    const perCaller = 300;
    const caller = async () => {
      for (let i = 0; i < perCaller; i++) await reserveCommit(ledger);
    };
    await Promise.all(Array.from({ length: callers }, caller)); // warm-up
    const started = process.hrtime.bigint();
    await Promise.all(Array.from({ length: callers }, caller));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await ledger.close?.();
    return { 'ledger.memory.concurrent_reserve_per_sec': (callers * perCaller) / seconds };
  },
};

const heap: Benchmark = {
  metrics: {
    'ledger.memory.heap_growth_mb_per_million': { target: 20, better: 'lower', unit: 'MB' },
  },
  async run() {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) throw new Error('run with node --expose-gc (pnpm bench does)');
    const clock = new ManualClock();
    const ledger = benchLedger(clock);
    for (let i = 0; i < 10_000; i++) await reserveCommit(ledger);
    clock.advance(31 * 24 * 3600_000);
    await ledger.sweepExpired();
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 1_000_000; i++) {
      await reserveCommit(ledger);
      if (i % 1000 === 0) clock.advance(1000);
    }
    // Past every retention window: idempotency records and settled rows are collectable now.
    clock.advance(31 * 24 * 3600_000);
    await ledger.sweepExpired();
    await reserveCommit(ledger);
    gc();
    const after = process.memoryUsage().heapUsed;
    await ledger.close?.();
    return { 'ledger.memory.heap_growth_mb_per_million': (after - before) / 1024 / 1024 };
  },
};

export const benchmarks: Benchmark[] = [sequential, concurrent, heap];
