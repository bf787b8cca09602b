import { startRedisServer } from '@cycles-guard/redis/testing';
import { percentile } from '../../../scripts/bench-stats.ts';
import { startServerProcess } from './server-process.ts';
import { cpuMsOf, load, subscribeAll, unsubscribe, webhookBenchConfig } from './webhook-load.ts';
import { startWebhookReceiver } from './webhook-receiver.ts';

// Where a delivery's time and CPU go under the webhook benchmark's load (50 clients, one event per
// reserve, one subscription). PAIRS pairs of runs without (A) and with (B) the subscription give the
// server's CPU per delivery (B's CPU per reserve minus A's, one delivery per reserve); the last B run's
// timeline, in BUCKET_MS steps, gives reserves answered, events raised (by their timestamp) and
// deliveries arrived, the backlog (events raised so far minus deliveries arrived) and the latency of
// each bucket's events. NODE_ARGS go to the server's Node (e.g. `--cpu-prof`); CATEGORIES=0 subscribes
// to the threshold crossings alone, not to the benchmark's `budget` and `reservation` categories too. Run:
//   node --conditions=@cycles-guard/source --import tsx packages/server/bench/webhook-timeline.ts

const API_KEY = 'timeline-key-webhooks-1';
const ADMIN_KEY = 'timeline-admin-key-0123456789';
const RUN_MS = Number(process.env.RUN_MS ?? 4000);
const PAIRS = Number(process.env.PAIRS ?? 3);
const BUCKET_MS = Number(process.env.BUCKET_MS ?? 250);
const CATEGORIES = process.env.CATEGORIES !== '0';
const NODE_ARGS = (process.env.NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');

const receiver = await startWebhookReceiver();
const redis = await startRedisServer({ extraArgs: ['--auto-aof-rewrite-percentage', '0'] });
const server = await startServerProcess(
  webhookBenchConfig(redis.url, `timeline-wh:${Date.now()}:`, API_KEY, ADMIN_KEY),
  NODE_ARGS,
);
const pid = server.child.pid;

/** The server's CPU µs per reserve over a run and the second after it (and until deliveries land). */
async function run(subscribed: boolean): Promise<{ cpuUs: number; rate: number; answeredAt: number[] }> {
  const id = subscribed ? await subscribeAll(server.url, ADMIN_KEY, receiver.url, CATEGORIES) : undefined;
  const before = cpuMsOf(pid);
  const arrivedBefore = (await receiver.latencies()).length;
  receiver.measure(subscribed);
  const { rate, done, answeredAt } = await load(server.url, API_KEY, 50, RUN_MS);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  for (let still = 0; subscribed && still < 3000; still += 250) {
    if ((await receiver.latencies()).length - arrivedBefore >= done) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const cpuUs = ((cpuMsOf(pid) - before) / done) * 1000;
  receiver.measure(false);
  if (id !== undefined) await unsubscribe(server.url, ADMIN_KEY, id);
  return { cpuUs, rate, answeredAt };
}

try {
  await load(server.url, API_KEY, 50, 2000); // warm-up
  const a: number[] = [];
  const b: number[] = [];
  const rates: string[] = [];
  let last: number[] = [];
  for (let pair = 0; pair < PAIRS; pair++) {
    const withoutRun = await run(false);
    const arrivedBefore = (await receiver.timeline()).length;
    const withRun = await run(true);
    a.push(withoutRun.cpuUs);
    b.push(withRun.cpuUs);
    rates.push(`${withoutRun.rate.toFixed(0)}/${withRun.rate.toFixed(0)}`);
    last = withRun.answeredAt;
    if (pair === PAIRS - 1) {
      const timeline = (await receiver.timeline()).slice(arrivedBefore);
      printTimeline(withRun.answeredAt, timeline);
    }
  }
  const perDelivery = b.map((cpu, pair) => cpu - a[pair]!);
  console.log(
    `server CPU per reserve A ${a.map((v) => v.toFixed(0)).join(', ')} µs, B ${b.map((v) => v.toFixed(0)).join(', ')} µs; per delivery (B - A) ${perDelivery.map((v) => v.toFixed(0)).join(', ')} µs, median ${percentile(perDelivery, 0.5).toFixed(0)}; req/s A/B ${rates.join(', ')}; last B ${last.length} reserves`,
  );
} finally {
  await server.stop();
  await redis.remove();
  await receiver.stop();
}

function printTimeline(answeredAt: number[], timeline: number[]): void {
  const start = Math.min(...answeredAt);
  const bucketOf = (ms: number) => Math.floor((ms - start) / BUCKET_MS);
  const rows = new Map<number, { answered: number; events: number; arrived: number; latencies: number[] }>();
  const row = (bucket: number) => {
    let found = rows.get(bucket);
    if (found === undefined) {
      found = { answered: 0, events: 0, arrived: 0, latencies: [] };
      rows.set(bucket, found);
    }
    return found;
  };
  for (const ms of answeredAt) row(bucketOf(ms)).answered++;
  for (let i = 0; i < timeline.length; i += 2) {
    const eventMs = timeline[i]!;
    const arrivedMs = timeline[i + 1]!;
    const raised = row(bucketOf(eventMs));
    raised.events++;
    raised.latencies.push(arrivedMs - eventMs);
    row(bucketOf(arrivedMs)).arrived++;
  }
  let backlog = 0;
  console.log(
    `t (ms)  answered/s  events/s  arrived/s  backlog  latency p50/p99 of the bucket's events (ms)`,
  );
  for (const bucket of [...rows.keys()].sort((x, y) => x - y)) {
    const { answered, events, arrived, latencies } = rows.get(bucket)!;
    backlog += events - arrived;
    const perSecond = (n: number) => ((n * 1000) / BUCKET_MS).toFixed(0).padStart(9);
    const tail = latencies.length === 0 ? '' : `${percentile(latencies, 0.5)}/${percentile(latencies, 0.99)}`;
    console.log(
      `${String(bucket * BUCKET_MS).padStart(6)} ${perSecond(answered)}   ${perSecond(events)} ${perSecond(arrived)} ${String(backlog).padStart(8)}  ${tail}`,
    );
  }
}
