import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedisServer } from '@cycles-guard/redis/testing';
import { startServerProcess } from './server-process.ts';
import { cpuMsOf, load, subscribeAll, webhookBenchConfig } from './webhook-load.ts';
import { startWebhookReceiver } from './webhook-receiver.ts';

// Where the server's extra CPU per reserve goes with one subscription: two server processes under
// `--cpu-prof`, one loaded without a subscription (A), one with the benchmark's subscription (B), each
// for RUN_MS after a warm-up; prints each process's CPU per reserve and the functions whose self time
// per reserve differs most (B - A, µs). CATEGORIES=0 subscribes to the threshold crossings alone; NODE_ARGS go to both servers' Node. Run:
//   node --conditions=@cycles-guard/source --import tsx packages/server/bench/webhook-profile.ts

const API_KEY = 'profile-key-webhooks-1';
const ADMIN_KEY = 'profile-admin-key-0123456789';
const RUN_MS = Number(process.env.RUN_MS ?? 8000);
const TOP = Number(process.env.TOP ?? 30);
const CATEGORIES = process.env.CATEGORIES !== '0';
const CALLERS = process.env.CALLERS ?? '';
const CALLER_DEPTH = Number(process.env.CALLER_DEPTH ?? 6);
const NODE_ARGS = (process.env.NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');

interface Profile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * Self time (µs) per function (name, file and line) of a `.cpuprofile`; with CALLERS set, a function
 * whose name contains it is counted under its callers too (CALLER_DEPTH frames up), to see who calls it.
 */
function selfTimes(file: string): Map<string, number> {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const nameOf = new Map<number, string>();
  const parentOf = new Map<number, number>();
  for (const { id, callFrame, children } of profile.nodes) {
    const where = callFrame.url.replace(/^.*\/(node_modules|packages)\//, '$1/');
    nameOf.set(id, `${callFrame.functionName || '(anonymous)'} ${where}:${callFrame.lineNumber + 1}`);
    for (const child of children ?? []) parentOf.set(child, id);
  }
  const times = new Map<string, number>();
  for (const [index, id] of profile.samples.entries()) {
    let name = nameOf.get(id)!;
    if (CALLERS !== '' && name.includes(CALLERS)) {
      let up = id;
      for (let depth = 0; depth < CALLER_DEPTH && parentOf.has(up); depth++) {
        up = parentOf.get(up)!;
        name += ` < ${nameOf.get(up)!}`;
      }
    }
    times.set(name, (times.get(name) ?? 0) + (profile.timeDeltas[index + 1] ?? 0));
  }
  return times;
}

/** One server process loaded for RUN_MS, with or without the subscription: its self times per reserve. */
async function profiled(subscribed: boolean): Promise<{ perReserve: Map<string, number>; cpuUs: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'cg-prof-'));
  const receiver = await startWebhookReceiver();
  const redis = await startRedisServer({ extraArgs: ['--auto-aof-rewrite-percentage', '0'] });
  const server = await startServerProcess(
    webhookBenchConfig(redis.url, `profile-wh:${Date.now()}:`, API_KEY, ADMIN_KEY),
    [...NODE_ARGS, '--cpu-prof', `--cpu-prof-dir=${dir}`],
  );
  try {
    if (subscribed) await subscribeAll(server.url, ADMIN_KEY, receiver.url, CATEGORIES);
    await load(server.url, API_KEY, 50, 2000); // warm-up (in the profile too, on both sides)
    const before = cpuMsOf(server.child.pid);
    const { done } = await load(server.url, API_KEY, 50, RUN_MS);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const cpuUs = ((cpuMsOf(server.child.pid) - before) / done) * 1000;
    await server.stop();
    const file = join(dir, readdirSync(dir).find((name) => name.endsWith('.cpuprofile'))!);
    const perReserve = new Map<string, number>();
    for (const [name, us] of selfTimes(file)) perReserve.set(name, us / done);
    console.log(
      `${subscribed ? 'B (subscribed)' : 'A (none)'}: ${done} reserves, ${cpuUs.toFixed(0)} µs CPU per reserve`,
    );
    return { perReserve, cpuUs };
  } finally {
    await redis.remove();
    await receiver.stop();
  }
}

const a = await profiled(false);
const b = await profiled(true);
const names = new Set([...a.perReserve.keys(), ...b.perReserve.keys()]);
const rows = [...names].map((name) => {
  const without = a.perReserve.get(name) ?? 0;
  const withIt = b.perReserve.get(name) ?? 0;
  return { name, without, withIt, delta: withIt - without };
});
rows.sort((x, y) => Math.abs(y.delta) - Math.abs(x.delta));
const sum = (side: Map<string, number>) => [...side.values()].reduce((total, us) => total + us, 0);
console.log(
  `profiled self time per reserve: A ${sum(a.perReserve).toFixed(0)} µs, B ${sum(b.perReserve).toFixed(0)} µs`,
);
console.log('B - A (µs/reserve)   A      B      function');
for (const { name, without, withIt, delta } of rows.slice(0, TOP)) {
  console.log(
    `${delta.toFixed(1).padStart(8)}  ${without.toFixed(1).padStart(7)} ${withIt.toFixed(1).padStart(6)}   ${name}`,
  );
}
