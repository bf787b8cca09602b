import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { DEFAULT_BLOCKED_CIDR_RANGES } from '../src/webhooks/webhook-security.ts';

// The webhook benchmarks' load: clients that each reserve, one after another, for a new user whose
// template budget (100 tokens, estimate 90) the reserve takes past 80 %, so every reserve raises one
// `budget.threshold_crossed` event. Shared by webhooks.bench.ts, webhook-timeline.ts and webhook-count.ts.

let counter = 0;

/** One reserve for a new user; its status, or undefined when the request failed (a killed server). */
async function reserveOnce(pool: Pool, apiKey: string): Promise<number | undefined> {
  counter++;
  const body = JSON.stringify({
    idempotency_key: `wh-${process.pid}-${counter}`,
    subject: { tenant: 'acme', app: 'chat', agent: `user-${counter}` },
    action: { kind: 'llm.completion', name: 'bench-model' },
    estimate: { unit: 'TOKENS', amount: 90 },
    // Longer than the benchmark: with the default 60 s the first holds expired during the last pairs,
    // and their expiries (swept, evented and, in B, delivered) loaded those runs alone.
    ttl_ms: 600_000,
  });
  const response = await pool
    .request({
      path: '/v1/reservations',
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'x-cycles-api-key': apiKey },
    })
    .catch(() => undefined);
  if (response === undefined) return undefined;
  await response.body.dump().catch(() => {});
  return response.statusCode;
}

/**
 * `clients` reserving back to back on `pool` while `running()` holds, each answer (or undefined for a
 * failed request) passed to `answered`.
 */
export async function reserveWhile(
  pool: Pool,
  apiKey: string,
  clients: number,
  running: () => boolean,
  answered: (status: number | undefined) => void,
): Promise<void> {
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (running()) answered(await reserveOnce(pool, apiKey));
    }),
  );
}

/** What one load run did: reserves per second, how many, and when each was answered (ms, wall clock). */
export interface LoadRun {
  rate: number;
  done: number;
  answeredAt: number[];
}

/** `clients` reserving back to back for `durationMs`; any answer but 200 fails the run. */
export async function load(
  origin: string,
  apiKey: string,
  clients: number,
  durationMs: number,
): Promise<LoadRun> {
  const pool = new Pool(origin, { connections: clients, pipelining: 1 });
  const answeredAt: number[] = [];
  const started = performance.now();
  const deadline = started + durationMs;
  await reserveWhile(
    pool,
    apiKey,
    clients,
    () => performance.now() < deadline,
    (status) => {
      if (status !== 200) throw new Error(`reserve answered ${status ?? 'nothing'}`);
      answeredAt.push(Date.now());
    },
  );
  const elapsed = performance.now() - started;
  await pool.close();
  return { rate: (answeredAt.length / elapsed) * 1000, done: answeredAt.length, answeredAt };
}

/** CPU time (ms, user + system) a process has used so far, from /proc (Linux); NaN elsewhere. */
export function cpuMsOf(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in 100 Hz ticks
  } catch {
    return Number.NaN;
  }
}

/**
 * The server config of the webhook benchmarks: the Redis ledger, one tenant whose users each get a
 * 100-token template budget, and loopback allowed as a webhook target (http, 127.0.0.0/8 unblocked).
 */
export function webhookBenchConfig(
  redisUrl: string,
  keyPrefix: string,
  apiKey: string,
  adminKey: string,
): Record<string, unknown> {
  return {
    ledger: { type: 'redis', url: redisUrl, keyPrefix },
    apiKeys: { [apiKey]: 'acme' },
    adminApiKey: adminKey,
    webhookSecurity: {
      allow_http: true,
      blocked_cidr_ranges: DEFAULT_BLOCKED_CIDR_RANGES.filter((range) => range !== '127.0.0.0/8'),
    },
    maxTemplateLedgers: 10_000_000,
    maxTemplateLedgersPerTenant: 10_000_000,
    tenants: { acme: { maxReservations: 10_000_000 } },
    ledgers: [
      { scope: 'tenant:acme', unit: 'TOKENS', allocated: 1e15 },
      { scope: 'tenant:acme/app:chat', unit: 'TOKENS', allocated: 1e15 },
    ],
    templates: [{ pattern: 'tenant:acme/app:chat/agent:*', unit: 'TOKENS', allocated: 100 }],
  };
}

/**
 * Subscribes `url` to every threshold crossing of tenant acme (and, unless `categories` is false, to the
 * `budget` and `reservation` categories); returns the subscription id.
 */
export async function subscribeAll(
  serverUrl: string,
  adminKey: string,
  url: string,
  categories = true,
): Promise<string> {
  const created = await fetch(`${serverUrl}/v1/admin/webhooks?tenant_id=acme`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-admin-api-key': adminKey },
    body: JSON.stringify({
      url,
      event_types: ['budget.threshold_crossed'],
      ...(categories ? { event_categories: ['budget', 'reservation'] } : {}),
    }),
  });
  if (created.status !== 201) throw new Error(`subscribe answered ${created.status}`);
  return ((await created.json()) as { subscription: { subscription_id: string } }).subscription
    .subscription_id;
}

/** Deletes a subscription. */
export async function unsubscribe(serverUrl: string, adminKey: string, id: string): Promise<void> {
  await fetch(`${serverUrl}/v1/admin/webhooks/${id}`, {
    method: 'DELETE',
    headers: { 'x-admin-api-key': adminKey },
  });
}
