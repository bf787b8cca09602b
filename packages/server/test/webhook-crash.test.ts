import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedisLedger } from '@cycles-guard/redis';
import { type RedisServer, startRedisServer } from '@cycles-guard/redis/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY } from './support/http-ledger.ts';
import { LOOPBACK_WEBHOOKS } from './support/loopback-webhooks.ts';

// Fault injection: the real bin on a real redis-server is SIGKILLed at random points while reserves
// raise an event each (a threshold crossing per new user) and a subscription receives them all at a real
// receiver that answers after a random delay and fails half the first attempts, so each kill finds
// deliveries in every state: drafted but not sent, sent and unanswered, failed or answered but not
// written (the 10 ms write batch), written unfinished, retrying, finished. Another server is started after each kill. At the end every event in the event store that
// the subscription receives has arrived at least once: what the dead servers left unfinished is resumed
// from the pending set, and what they sent (or not) without a record is resent from their delivery marks.

const CLI = new URL('../src/cli.ts', import.meta.url).pathname;
const API_KEY = 'crash-key-webhooks-01';
const LEASE_MS = 1000;
const children: ChildProcess[] = [];
let redis: RedisServer;
let receiver: Server;
let hook: string;
const received = new Map<string, number>();
const attempted = new Set<string>();

beforeAll(async () => {
  redis = await startRedisServer();
  receiver = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => {
      body += chunk;
    });
    request.on('end', () => {
      const id = (JSON.parse(body) as { event_id: string }).event_id;
      // Half the first attempts fail, at once (the retry is then due while the write batch may not have
      // stored the delivery yet); later attempts succeed. Only a 2xx counts as delivered.
      const accepted = attempted.has(id) || Math.random() < 0.5;
      attempted.add(id);
      if (accepted) received.set(id, (received.get(id) ?? 0) + 1);
      setTimeout(
        () => {
          response.statusCode = accepted ? 204 : 503;
          response.end();
        },
        Math.floor(Math.random() * 5),
      );
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  receiver?.closeAllConnections();
  await new Promise((resolve) => receiver?.close(resolve));
  await redis?.remove();
});

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Starts the real bin over the test's Redis under `prefix`; resolves with its URL once it answers. */
async function startServer(prefix: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const file = join(mkdtempSync(join(tmpdir(), 'cg-crash-')), 'cycles.json');
  writeFileSync(
    file,
    JSON.stringify({
      port,
      host: '127.0.0.1',
      logLevel: 'silent',
      ledger: { type: 'redis', url: redis.url, keyPrefix: prefix },
      apiKeys: { [API_KEY]: 'acme' },
      adminApiKey: ADMIN_KEY,
      webhookSecurity: LOOPBACK_WEBHOOKS,
      webhookLeaseMs: LEASE_MS,
      maxTemplateLedgersPerTenant: 1_000_000,
      ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1e12 }],
      templates: [{ pattern: 'tenant:acme/agent:*', unit: 'TOKENS', allocated: 100 }],
    }),
  );
  const child = spawn(
    process.execPath,
    ['--conditions=@cycles-guard/source', '--import', 'tsx', CLI, '--config', file],
    { stdio: 'ignore' },
  );
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  // Generous: under a full parallel test run a tsx-started server can take many seconds to answer.
  for (let waited = 0; waited < 60_000; waited += 50) {
    if (
      await fetch(`${url}/health`).then(
        (response) => response.ok,
        () => false,
      )
    )
      return { url, child };
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('cycles-guard-server did not start');
}

/** Resolves once the process has exited (at once if it already has). */
function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Reserves for new users (one threshold event each) from `clients` callers until `stop` resolves. */
async function reserveUntil(
  url: string,
  prefix: string,
  clients: number,
  stop: Promise<void>,
): Promise<void> {
  let stopped = false;
  void stop.then(() => {
    stopped = true;
  });
  let counter = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (!stopped) {
        const user = `${prefix}${counter++}`;
        await fetch(`${url}/v1/reservations`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-cycles-api-key': API_KEY },
          body: JSON.stringify({
            idempotency_key: user,
            subject: { tenant: 'acme', agent: user },
            action: { kind: 'llm.completion', name: 'm' },
            estimate: { unit: 'TOKENS', amount: 90 },
          }),
        }).then(
          (response) => response.arrayBuffer(),
          () => undefined, // the server was killed under this request
        );
      }
    }),
  );
}

/** Every `budget.threshold_crossed` event of acme in the event store. */
async function storedEvents(prefix: string): Promise<string[]> {
  const ledger = createRedisLedger({ url: redis.url, keyPrefix: prefix, sweepIntervalMs: 0, events: {} });
  const ids: string[] = [];
  try {
    let cursor: string | undefined;
    do {
      const page = await ledger.events!.list({
        tenant: 'acme',
        eventType: 'budget.threshold_crossed',
        sortDir: 'asc',
        limit: 100,
        ...(cursor === undefined ? {} : { cursor }),
      });
      ids.push(...page.events.map((event) => event.event_id));
      cursor = page.hasMore ? page.nextCursor : undefined;
    } while (cursor !== undefined);
  } finally {
    await ledger.close();
  }
  return ids;
}

let run = 0;

/** Subscribes the receiver to every threshold crossing, retrying fast and never disabled. */
async function subscribe(url: string): Promise<void> {
  const created = await fetch(`${url}/v1/admin/webhooks?tenant_id=acme`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-admin-api-key': ADMIN_KEY },
    body: JSON.stringify({
      url: hook,
      event_types: ['budget.threshold_crossed'],
      retry_policy: { max_retries: 10, initial_delay_ms: 100, backoff_multiplier: 1, max_delay_ms: 1000 },
      disable_after_failures: 1_000_000,
    }),
  });
  expect(created.status).toBe(201);
}

/** The stored events under `prefix` that have not arrived, after waiting up to 60 s for them. */
async function neverArrived(prefix: string): Promise<{ stored: string[]; missing: string[] }> {
  // An event is appended a few ms after its reserve answered (more on a loaded machine): read the store
  // until it stops growing, so the last events count too (and a short loaded run has stored some).
  let stored = await storedEvents(prefix);
  for (let waited = 0; waited < 10_000; waited += 300) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const again = await storedEvents(prefix);
    if (again.length === stored.length && stored.length > 0) break;
    stored = again;
  }
  let missing = stored;
  for (let waited = 0; waited < 60_000 && missing.length > 0; waited += 200) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    missing = stored.filter((id) => !received.has(id));
  }
  return { stored, missing };
}

/** Kills `child` after `delayMs`; resolves then. */
function killAfter(child: ChildProcess, delayMs: number): Promise<void> {
  return new Promise((resolve) =>
    setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, delayMs),
  );
}

describe('webhook delivery across server crashes (Redis)', () => {
  it('delivers every stored event the subscription receives at least once, whenever servers are killed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 20, max: 700 }), { minLength: 2, maxLength: 3 }),
        async (killAfterMs) => {
          const prefix = `crash-${run++}:`;
          const users = prefix.slice(0, -1);
          let server = await startServer(prefix);
          await subscribe(server.url);
          for (const [round, delay] of killAfterMs.entries()) {
            await reserveUntil(server.url, `${users}-r${round}-u`, 8, killAfter(server.child, delay));
            await exited(server.child);
            server = await startServer(prefix);
          }
          // The last server runs on, with a little more load, and takes over the dead servers' marks.
          await reserveUntil(
            server.url,
            `${users}-last-u`,
            4,
            new Promise((resolve) => setTimeout(resolve, 500)),
          );
          const { stored, missing } = await neverArrived(prefix);
          server.child.kill('SIGTERM');
          await exited(server.child);
          expect(stored.length).toBeGreaterThan(0);
          expect(missing, `${missing.length} of ${stored.length} stored events never arrived`).toEqual([]);
        },
      ),
      // No shrinking: a failure's timings do not replay, and each shrink step restarts servers for minutes.
      { numRuns: 3, endOnFailure: true },
    );
  }, 600_000);

  it('has a running peer take over a killed server: its unrecorded and its retrying deliveries', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 50, max: 700 }), async (delay) => {
        const prefix = `peer-${run++}:`;
        const users = prefix.slice(0, -1);
        const [doomed, peer] = await Promise.all([startServer(prefix), startServer(prefix)]);
        await subscribe(peer!.url);
        await new Promise((resolve) => setTimeout(resolve, 1500)); // the doomed server sees the subscription
        const killed = killAfter(doomed!.child, delay);
        await Promise.all([
          reserveUntil(doomed!.url, `${users}-a-u`, 8, killed),
          reserveUntil(
            peer!.url,
            `${users}-b-u`,
            4,
            killed.then(() => new Promise((resolve) => setTimeout(resolve, 300))),
          ),
        ]);
        const { stored, missing } = await neverArrived(prefix);
        peer!.child.kill('SIGTERM');
        await exited(peer!.child);
        expect(stored.length).toBeGreaterThan(0);
        expect(missing, `${missing.length} of ${stored.length} stored events never arrived`).toEqual([]);
      }),
      { numRuns: 2, endOnFailure: true },
    );
  }, 600_000);
});
