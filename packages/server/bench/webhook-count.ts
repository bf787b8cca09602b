import { execFileSync } from 'node:child_process';
import { startRedisServer } from '@cycles-guard/redis/testing';
import { Pool } from 'undici';
import { startServerProcess } from './server-process.ts';
import { reserveWhile, subscribeAll, webhookBenchConfig } from './webhook-load.ts';
import { startWebhookReceiver } from './webhook-receiver.ts';

// Counts, not timings: 50 clients reserve for new users (each reserve raises one threshold crossing)
// for RUN_MS, then everything waits until quiet, and the reserves answered 200 are compared with the
// events stored, the deliveries received and the server's delivery counters. Run:
//   node --conditions=@cycles-guard/source --import tsx packages/server/bench/webhook-count.ts
// With CRASH=1 the server is SIGKILLed at the end of the run, mid-load: what is stored then is what a
// crash keeps of the answered reserves' events.

const API_KEY = 'count-key-webhooks-1';
const ADMIN_KEY = 'count-admin-key-0123456789';
const RUN_MS = Number(process.env.RUN_MS ?? 10_000);
const CRASH = process.env.CRASH === '1';
const PREFIX = `count-wh:${Date.now()}:`;

const redis = await startRedisServer();
const receiver = await startWebhookReceiver();
const server = await startServerProcess(webhookBenchConfig(redis.url, PREFIX, API_KEY, ADMIN_KEY));
try {
  await subscribeAll(server.url, ADMIN_KEY, receiver.url, false);
  receiver.measure(true);
  const pool = new Pool(server.url, { connections: 50, pipelining: 1 });
  let answered = 0;
  const deadline = performance.now() + RUN_MS;
  let killed = false;
  if (CRASH) {
    setTimeout(() => {
      killed = true;
      server.child.kill('SIGKILL');
    }, RUN_MS);
  }
  await reserveWhile(
    pool,
    API_KEY,
    50,
    () => performance.now() < deadline && !killed,
    (status) => {
      // undefined: the request failed, the server was killed mid-request.
      if (status === 200 && !killed) answered++;
    },
  );
  await pool.destroy();
  const redisCli = (...args: string[]) =>
    execFileSync('redis-cli', ['-p', String(redis.port), ...args], { encoding: 'utf8' }).trim();
  const snapshot = async () => {
    const metrics = CRASH
      ? '' // the server is gone
      : await (await fetch(`${server.url}/metrics`, { headers: { 'x-admin-api-key': ADMIN_KEY } })).text();
    const delivered = metrics
      .split('\n')
      .filter((line) => line.startsWith('cycles_webhook_deliveries_total'))
      .map((line) => line.replace('cycles_webhook_deliveries_total', ''))
      .join(' ');
    return {
      stored: Number(redisCli('ZCARD', `${PREFIX}events:{acme}:log`)),
      seq: Number(redisCli('GET', `${PREFIX}events:seq`)),
      claims: Number(
        redisCli('EVAL', `return #redis.call('keys', ARGV[1])`, '0', `${PREFIX}events:{acme}:once:*`),
      ),
      received: (await receiver.latencies()).length,
      delivered,
    };
  };
  console.log(`run ${RUN_MS} ms: answered ${answered}`);
  let last = '';
  for (let quiet = 0; quiet < 3; ) {
    const now = JSON.stringify(await snapshot());
    console.log(`${((performance.now() - deadline) / 1000).toFixed(1)} s after: ${now}`);
    quiet = now === last ? quiet + 1 : 0;
    last = now;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
} finally {
  if (!CRASH) await server.stop();
  await redis.remove();
  await receiver.stop();
}
