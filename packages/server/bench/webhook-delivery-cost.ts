import { createRedisLedger } from '@cycles-guard/redis';
import { startRedisServer } from '@cycles-guard/redis/testing';
import { median } from '../../../scripts/bench-stats.ts';
import { WebhookDispatcher } from '../src/webhooks/dispatcher.ts';
import { RedisWebhookStore } from '../src/webhooks/redis-webhook-store.ts';
import { createSubscription } from '../src/webhooks/subscription.ts';
import { WebhookUrlGuard } from '../src/webhooks/url-guard.ts';
import { DEFAULT_BLOCKED_CIDR_RANGES, parseWebhookSecurity } from '../src/webhooks/webhook-security.ts';
import { cpuMsOf } from './webhook-load.ts';
import { startWebhookReceiver } from './webhook-receiver.ts';

// What one delivery costs in CPU, on each process of the machine: this one (the dispatcher, its POSTs
// and its store writes), redis-server and the receiver. EVENTS threshold crossings are published BATCH
// per event-loop turn, each turn also spinning SPIN_US of CPU per event as the reserves would (the
// benchmark's loop is saturated: responses and writes then share turns, which an idle loop would wake
// for one at a time), with no subscription (A) and with one receiving them all at a loopback endpoint
// in a child process (B). A delivery costs B - A, per event, median of ROUNDS alternating pairs. Run:
//   node --conditions=@cycles-guard/source --import tsx packages/server/bench/webhook-delivery-cost.ts

const EVENTS = Number(process.env.EVENTS ?? 20_000);
const BATCH = Number(process.env.BATCH ?? 50);
const SPIN_US = Number(process.env.SPIN_US ?? 150);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
/** `B` runs rounds with the subscription only (to profile a delivery's work: `node --cpu-prof`). */
const ONLY_B = process.env.ONLY === 'B';

const redis = await startRedisServer({ extraArgs: ['--auto-aof-rewrite-percentage', '0'] });
const receiver = await startWebhookReceiver();
const prefix = `cost-wh:${Date.now()}:`;
const ledger = createRedisLedger({ url: redis.url, keyPrefix: prefix, sweepIntervalMs: 0, events: {} });
const events = ledger.events!;
const guard = new WebhookUrlGuard(
  parseWebhookSecurity({
    allow_http: true,
    blocked_cidr_ranges: DEFAULT_BLOCKED_CIDR_RANGES.filter((range) => range !== '127.0.0.0/8'),
  }),
);
const dispatcher = new WebhookDispatcher(events, new RedisWebhookStore(ledger.client, prefix), { guard });
dispatcher.start();
await dispatcher.ready();
const redisPid = Number(/process_id:(\d+)/.exec(await ledger.client.info('server'))?.[1]);

let user = 0;
function spin(us: number): void {
  const until = performance.now() + us / 1000;
  while (performance.now() < until) {}
}

/** Publishes EVENTS crossings BATCH a turn; resolves when the dispatcher is idle and `expected` arrived. */
async function publishAll(expected: number): Promise<void> {
  for (let sent = 0; sent < EVENTS; sent += BATCH) {
    for (let i = 0; i < BATCH; i++) {
      const scope = `tenant:acme/app:chat/agent:user-${user++}`;
      events.publish([
        {
          type: 'budget.threshold_crossed',
          tenant: 'acme',
          scope,
          data: {
            scope,
            unit: 'TOKENS',
            threshold: 0.8,
            utilization: 0.9,
            allocated: 100,
            remaining: 10,
            spent: 0,
            reserved: 90,
            direction: 'rising',
          },
        },
      ]);
      spin(SPIN_US);
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  await dispatcher.idle();
  for (let waited = 0; (await receiver.latencies()).length < expected && waited < 30_000; waited += 50) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await new Promise((resolve) => setTimeout(resolve, 200)); // the store's last flush and mark
}

/** CPU µs per event of this process, redis-server and the receiver over one round. */
async function round(subscribed: boolean): Promise<[number, number, number]> {
  let id: string | undefined;
  if (subscribed) {
    const record = createSubscription(
      { url: receiver.url, event_types: ['budget.threshold_crossed'] },
      'acme',
      guard,
      Date.now(),
    );
    await dispatcher.save(record);
    id = record.subscription_id;
  }
  const arrived = (await receiver.latencies()).length;
  receiver.measure(subscribed);
  const own = process.cpuUsage();
  const redisBefore = cpuMsOf(redisPid);
  const receiverBefore = cpuMsOf(receiver.pid);
  await publishAll(arrived + (subscribed ? EVENTS : 0));
  const used = process.cpuUsage(own);
  const perEvent = (ms: number) => (ms * 1000) / EVENTS;
  const result: [number, number, number] = [
    (used.user + used.system) / EVENTS,
    perEvent(cpuMsOf(redisPid) - redisBefore),
    perEvent(cpuMsOf(receiver.pid) - receiverBefore),
  ];
  receiver.measure(false);
  if (subscribed) {
    const got = (await receiver.latencies()).length - arrived;
    if (got < EVENTS) throw new Error(`only ${got} of ${EVENTS} deliveries arrived`);
    await dispatcher.remove(id!);
  }
  return result;
}

try {
  if (ONLY_B) for (let r = 0; r < ROUNDS; r++) await round(true);
  else await measure();
} finally {
  await dispatcher.close();
  await ledger.close();
  await redis.remove();
  await receiver.stop();
}

async function measure(): Promise<void> {
  await round(false); // warm-up
  await round(true);
  const cost: [number[], number[], number[]] = [[], [], []];
  for (let r = 0; r < ROUNDS; r++) {
    const a = await round(false);
    const b = await round(true);
    for (let p = 0; p < 3; p++) cost[p]!.push(b[p]! - a[p]!);
  }
  const show = (values: number[]) =>
    `${median(values).toFixed(1)} (${values.map((v) => v.toFixed(1)).join(', ')})`;
  console.log(
    `CPU µs per delivery, median (rounds): server ${show(cost[0])}, redis ${show(cost[1])}, receiver ${show(cost[2])}; ${EVENTS} events, ${BATCH} a turn, spin ${SPIN_US} µs each`,
  );
}
