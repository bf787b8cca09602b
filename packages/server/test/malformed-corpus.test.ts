import { createHash } from 'node:crypto';
import type { Ledger } from '@cycles-guard/core';
import { ManualClock } from '@cycles-guard/core/testing';
import { type RedisServer, startRedisServer } from '@cycles-guard/redis/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerStoreConfig } from '../src/config.ts';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { checkResponse, schemaProblems } from './support/contract.ts';
import {
  ADMIN_KEY,
  API_KEY,
  type Malformed,
  malformedRequest,
  OTHER_KEY,
  reportedCases,
  withKey,
} from './support/malformed.ts';
import { rawRequest } from './support/raw-http.ts';

// No input gets a 5xx: a randomized corpus of malformed requests to every route of a real server, on the
// memory ledger and on the Redis ledger (a real redis-server). Every error is the protocol's
// ErrorResponse (validated against the spec) with matching correlation ids, protocol answers use a
// status the spec declares (or an HTTP-layer one), and a refused request leaves every balance as it was
// (a template's budget it made stays, untouched: see keptBalances).
// Requests go over raw sockets, so bytes fetch would refuse to send (bad escapes, odd headers) arrive.
// A failure prints fast-check's seed and the shrunk request; `CORPUS_RUNS` sets the corpus size.

const RUNS = Number(process.env.CORPUS_RUNS ?? 2000);

/** Every budget's counters, in a stable order. */
async function balances(ledger: Ledger): Promise<string> {
  const states = await ledger.listLedgers();
  return JSON.stringify(
    states
      .map((state) => [
        state.scope,
        state.unit,
        state.allocated,
        state.reserved,
        state.spent,
        state.debt,
        state.remaining,
      ])
      .sort((a, b) => String(a[0]).localeCompare(String(b[0])) || String(a[1]).localeCompare(String(b[1]))),
  );
}

/**
 * Every budget of `before` is unchanged in `after`, and any budget new in `after` is untouched: on both
 * ledgers a template's budget is made on the first request for its scope, refused or not, with the
 * template's allocation and nothing held, spent or owed (the balance it had before, only not listed).
 */
function keptBalances(before: string, after: string): boolean {
  type Row = [string, string, number, number, number, number, number];
  const known = new Map(
    (JSON.parse(before) as Row[]).map((row) => [`${row[0]}|${row[1]}`, JSON.stringify(row)]),
  );
  const rows = JSON.parse(after) as Row[];
  const pristine = ([, , allocated, reserved, spent, debt, remaining]: Row) =>
    reserved === 0 && spent === 0 && debt === 0 && remaining === allocated;
  const kept = rows.filter((row) => known.get(`${row[0]}|${row[1]}`) === JSON.stringify(row));
  return kept.length === known.size && rows.every((row) => known.has(`${row[0]}|${row[1]}`) || pristine(row));
}

describe.each(['memory', 'redis'] as const)('malformed requests, %s ledger', (backend) => {
  let redis: RedisServer | undefined;
  let server: CyclesServer;
  let counter = 0;

  beforeAll(async () => {
    let store: LedgerStoreConfig = { type: 'memory' };
    if (backend === 'redis') {
      redis = await startRedisServer();
      store = { type: 'redis', url: redis.url, keyPrefix: 'corpus:' };
    }
    server = await startCyclesServer({
      port: 0,
      // Time stands still, so no hold expires between a request and the balance check after it.
      clock: new ManualClock(Date.UTC(2026, 11, 6)),
      ledger: store,
      adminApiKey: ADMIN_KEY,
      apiKeys: { [API_KEY]: 'acme', [OTHER_KEY]: 'beta' },
      ledgers: [
        { scope: 'tenant:acme', unit: 'TOKENS', allocated: 1_000_000_000 },
        { scope: 'tenant:acme/app:chat', unit: 'TOKENS', allocated: 100_000_000 },
        { scope: 'tenant:beta', unit: 'TOKENS', allocated: 1_000_000 },
      ],
      logLevel: 'silent',
    });
  });
  afterAll(async () => {
    await server?.close();
    await redis?.remove();
  });

  /** Sends one request; asserts what must hold of its answer. Returns the status. */
  async function sendChecked(request: Malformed): Promise<number> {
    let path = request.path;
    if (path.includes('{id}')) {
      const hold = await server.ledger.reserve(
        {
          idempotencyKey: `corpus-hold-${++counter}`,
          subject: { tenant: 'acme', app: 'chat' },
          action: { kind: 'llm.completion', name: 'm' },
          estimate: { unit: 'TOKENS', amount: 7 },
          ttlMs: 60_000,
        },
        { tenant: 'acme' },
      );
      path = path.replaceAll('{id}', hold.reservationId ?? 'none');
    }
    const body = withKey(request.body, `corpus-${++counter}`);
    const head = [`${request.method} ${path} HTTP/1.1`, 'Host: corpus'];
    for (const [name, value] of Object.entries(request.headers)) head.push(`${name}: ${value}`);
    const before = await balances(server.ledger);
    const answer = await rawRequest(server.url, head.join('\r\n'), body);
    const where = `${request.method} ${path.slice(0, 120)} → ${answer.status}: ${answer.text.slice(0, 300)}`;
    expect(answer.status, where).toBeGreaterThanOrEqual(200);
    expect(answer.status, where).toBeLessThan(500);
    if (answer.status >= 400) {
      const error = JSON.parse(answer.text) as Record<string, unknown>;
      expect(schemaProblems('ErrorResponse', error), where).toEqual([]);
      expect(error.request_id, where).toBe(answer.headers['x-request-id']);
      expect(error.trace_id, where).toBe(answer.headers['x-cycles-trace-id']);
      // Refusals name what is wrong; they never send the request's (up to 64 KB of) bytes back.
      expect(answer.text.length, where).toBeLessThan(1024);
      expect(
        keptBalances(before, await balances(server.ledger)),
        `balances changed by a refused request: ${where}`,
      ).toBe(true);
    }
    let parsed: unknown;
    try {
      parsed = answer.text === '' ? undefined : JSON.parse(answer.text);
    } catch {
      parsed = answer.text;
    }
    const url = `${server.url}${path.startsWith('/') ? path.replace(/[\s#]/g, '_') : '/'}`;
    expect(
      checkResponse(request.method, url, answer.status, new Headers(answer.headers), parsed),
      where,
    ).toEqual([]);
    return answer.status;
  }

  it(`answers ${RUNS} randomized malformed requests and the reported ones: no 5xx, protocol errors, balances kept`, async () => {
    const distinct = new Set<string>();
    const statuses = new Map<number, number>();
    const record = (request: Malformed, status: number) => {
      const digest = createHash('sha256');
      digest.update(`${request.method} ${request.path}\n${JSON.stringify(request.headers)}\n`);
      if (request.body !== undefined) digest.update(request.body);
      distinct.add(digest.digest('hex'));
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    };
    for (const request of reportedCases()) record(request, await sendChecked(request));
    await fc.assert(
      fc.asyncProperty(malformedRequest, async (request) => {
        record(request, await sendChecked(request));
      }),
      { numRuns: RUNS },
    );
    const sent = [...statuses.values()].reduce((sum, count) => sum + count, 0);
    const fiveHundreds = [...statuses].filter(([status]) => status >= 500).reduce((sum, [, n]) => sum + n, 0);
    const refused = [...statuses].filter(([status]) => status >= 400).reduce((sum, [, n]) => sum + n, 0);
    console.log(
      `[corpus ${backend}] ${sent} requests, ${distinct.size} distinct, ${refused} refused (4xx), ${fiveHundreds} 5xx; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`,
    );
    expect(fiveHundreds).toBe(0);
    // A generator gone degenerate (the same few requests again and again) would prove little.
    expect(distinct.size).toBeGreaterThan(RUNS * 0.75);
  }, 600_000);
});
