import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { globMatches } from '../src/webhooks/glob.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';
import { LOOPBACK_WEBHOOKS } from './support/loopback-webhooks.ts';
import { type RecordingReceiver, startRecordingReceiver } from './support/recording-receiver.ts';
import { useRedisServer } from './support/redis-server.ts';

// A hostile tenant's `scope_filter` of many `*` used to become a regular expression of as many `.*`,
// whose backtracking on an event scope that misses it takes exponential time: one subscription and one
// event of its own froze the whole server (every tenant) for good. The bin runs in a child process, so
// a frozen server fails this test instead of freezing the test runner with it.

const CLI = new URL('../src/cli.ts', import.meta.url).pathname;
const API_KEY = 'acme-key-hostile-01';
const redis = useRedisServer();
const received = new Map<string, { event_type: string }[]>();
const children: ChildProcess[] = [];
let receiver: RecordingReceiver | undefined;

beforeAll(async () => {
  receiver = await startRecordingReceiver(received);
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await receiver?.close();
});

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Starts the real bin on the given ledger; resolves with its URL once it answers. */
async function startServer(ledger: object): Promise<string> {
  const port = await freePort();
  const file = join(mkdtempSync(join(tmpdir(), 'cg-hostile-')), 'cycles.json');
  writeFileSync(
    file,
    JSON.stringify({
      port,
      host: '127.0.0.1',
      logLevel: 'silent',
      ledger,
      apiKeys: { [API_KEY]: 'acme' },
      adminApiKey: ADMIN_KEY,
      webhookSecurity: LOOPBACK_WEBHOOKS,
      ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 100 }],
    }),
  );
  const child = spawn(
    process.execPath,
    ['--conditions=@cycles-guard/source', '--import', 'tsx', CLI, '--config', file],
    { stdio: 'ignore' },
  );
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  for (let waited = 0; waited < 60_000; waited += 50) {
    if (
      await fetch(`${url}/health`).then(
        (response) => response.ok,
        () => false,
      )
    )
      return url;
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('cycles-guard-server did not start');
}

function call(url: string, method: string, path: string, body: unknown): Promise<Response> {
  return fetch(`${url}${path}`, {
    method,
    headers: { 'Content-Type': 'application/json', 'X-Cycles-API-Key': API_KEY },
    body: JSON.stringify(body),
  });
}

describe.each([
  ['memory', () => ({ type: 'memory' })],
  ['redis', () => ({ type: 'redis', url: redis.server.url, keyPrefix: 'hostile-scope:' })],
])('a scope_filter of many wildcards (%s ledger)', (name, ledger) => {
  it('is matched in linear time: the server keeps answering, and each filter receives what it selects', async () => {
    const url = await startServer(ledger());
    const subscribe = (path: string, scopeFilter: string) =>
      call(url, 'POST', '/v1/webhooks', {
        url: `${receiver!.base}/${name}/${path}`,
        event_types: ['reservation.denied'],
        scope_filter: scopeFilter,
      });
    // 300 stars then a letter no scope ends with: ~10^20 backtracking steps for the old regex on
    // `tenant:acme`; the second filter matches every scope.
    expect((await subscribe('misses', `${'*'.repeat(300)}x`)).status).toBe(201);
    expect((await subscribe('matches', `${'*'.repeat(300)}e`)).status).toBe(201);

    const denied = await call(url, 'POST', '/v1/reservations', {
      idempotency_key: 'over-budget',
      subject: { tenant: 'acme' },
      action: { kind: 'llm.completion', name: 'm' },
      estimate: { unit: 'TOKENS', amount: 1000 },
    });
    expect(denied.status).toBe(409);

    // Liveness, not speed: a frozen event loop never answers; a live one answers in milliseconds.
    const health = await fetch(`${url}/health`, { signal: AbortSignal.timeout(20_000) });
    expect(health.status).toBe(200);
    for (let waited = 0; waited < 20_000 && received.get(`/${name}/matches`) === undefined; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(received.get(`/${name}/matches`)?.map((event) => event.event_type)).toEqual([
      'reservation.denied',
    ]);
    expect(received.get(`/${name}/misses`)).toBeUndefined();
  }, 120_000);
});

describe('globMatches', () => {
  // The oracle: the regular expression the filter used to become, on inputs small enough for it.
  const oracle = (glob: string, text: string) =>
    new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(text);
  const alphabet = fc.constantFrom('a', 'b', ':', '/', '.', '*');

  it('agrees with the wildcard regular expression on random filters and scopes', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: alphabet, maxLength: 8 }),
        fc.string({ unit: fc.constantFrom('a', 'b', ':', '/', '.'), maxLength: 12 }),
        (glob, text) => {
          expect(globMatches(glob, text)).toBe(oracle(glob, text));
        },
      ),
      { numRuns: 5000 },
    );
  });
});
