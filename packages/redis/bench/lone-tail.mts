// Where one caller's tail goes (README "Performance"): `node --import tsx bench/lone-tail.mts [pairs]`.
// One caller in a closed loop, reserve → commit on a 3-level budget (as redis.bench.ts), each pair
// followed by two PINGs on the same connection; Node's GC pauses recorded (PerformanceObserver). Prints
// the pair and PING percentiles, and how many of the slowest 1 % of pairs overlapped a GC pause.
import { loadavg } from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import { percentile } from '../../../scripts/bench-stats.ts';
import { createRedisLedger } from '../src/index.ts';
import { startRedisServer } from '../src/testing/index.ts';

const pairs = Number(process.argv[2] ?? 5000);
// A second argument: seconds of 50 concurrent callers first, as redis.bench.ts runs before its lone caller.
const loadSeconds = Number(process.argv[3] ?? 0);
const gcs: Array<{ start: number; end: number }> = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries())
    gcs.push({ start: entry.startTime, end: entry.startTime + entry.duration });
}).observe({ entryTypes: ['gc'] });

const server = await startRedisServer();
const ledger = createRedisLedger({ url: server.url, keyPrefix: 'tail:', reservationReplayWindowMs: 0 });
const subject = { tenant: 'acme', workspace: 'prod', app: 'chat' };
for (const scope of ['tenant:acme', 'tenant:acme/workspace:prod', 'tenant:acme/workspace:prod/app:chat']) {
  await ledger.createLedger({ scope, unit: 'USD_MICROCENTS', allocated: 1e15 });
}
let sequence = 0;
const pair = async () => {
  const id = ++sequence;
  const { reservationId } = await ledger.reserve({
    idempotencyKey: `r${id}`,
    subject,
    action: { kind: 'llm.completion', name: 'tail' },
    estimate: { unit: 'USD_MICROCENTS', amount: 1000 },
  });
  await ledger.commit(reservationId as string, {
    idempotencyKey: `c${id}`,
    actual: { unit: 'USD_MICROCENTS', amount: 700 },
  });
};
for (let i = 0; i < 1000; i++) await pair();
const loadUntil = Date.now() + loadSeconds * 1000;
await Promise.all(
  Array.from({ length: 50 }, async () => {
    while (Date.now() < loadUntil) await pair();
  }),
);
const admin = ledger.client;
const persistence = async () => {
  const info = `${await admin.info('persistence')}${await admin.info('stats')}`;
  const field = (name: string) => new RegExp(`${name}:(\\d+)`).exec(info)?.[1];
  return `aof_rewrites ${field('aof_rewrites')}, in progress ${field('aof_rewrite_in_progress')}, latest fork ${field('latest_fork_usec')} µs`;
};
const before = await persistence();
const load = loadavg()[0]!.toFixed(2);
const timed: Array<{ start: number; end: number; us: number }> = [];
const pings: number[] = [];
for (let i = 0; i < pairs; i++) {
  const start = performance.now();
  await pair();
  const end = performance.now();
  timed.push({ start, end, us: (end - start) * 1000 });
  const ping = performance.now();
  await ledger.client.ping();
  await ledger.client.ping();
  pings.push((performance.now() - ping) * 1000);
}
const us = timed.map((t) => t.us);
const p99 = percentile(us, 0.99);
const slow = timed.filter((t) => t.us >= p99);
const withGc = slow.filter((t) => gcs.some((gc) => gc.start < t.end && gc.end > t.start)).length;
const gcInRun = gcs.filter((gc) => gc.start >= timed[0]!.start);
console.log(
  `load ${load}→${loadavg()[0]!.toFixed(2)}: ${pairs} pairs p50 ${percentile(us, 0.5).toFixed(0)} p90 ${percentile(us, 0.9).toFixed(0)} p99 ${p99.toFixed(0)} max ${Math.max(...us).toFixed(0)} µs; two PINGs p50 ${percentile(pings, 0.5).toFixed(0)} p99 ${percentile(pings, 0.99).toFixed(0)} µs; GC pauses ${gcInRun.length} (longest ${Math.max(0, ...gcInRun.map((gc) => (gc.end - gc.start) * 1000)).toFixed(0)} µs); slowest 1 %: ${slow.length} pairs, ${withGc} overlapping a GC`,
);
console.log(`redis before the lone caller: ${before}; after: ${await persistence()}`);
await ledger.close();
await server.remove();
