import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { createContractRecorder } from './support/contract.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';

// Query strings of the list endpoints: malformed values, misspelt or repeated parameters and cursors
// the server never issued are 400 INVALID_REQUEST naming the wire field; unknown parameters are ignored
// as the spec requires; cursors page through every row.

const recorder = createContractRecorder();
const API_KEY = 'acme-key-0001';
let server: CyclesServer;

beforeAll(async () => {
  server = await startCyclesServer({
    port: 0,
    adminApiKey: ADMIN_KEY,
    apiKeys: { [API_KEY]: 'acme' },
    ledgers: [
      { scope: 'tenant:acme', unit: 'TOKENS', allocated: 10_000 },
      { scope: 'tenant:acme/app:a', unit: 'TOKENS', allocated: 1_000 },
      { scope: 'tenant:acme/app:b', unit: 'TOKENS', allocated: 1_000 },
      { scope: 'tenant:acme/app:c', unit: 'TOKENS', allocated: 1_000 },
    ],
    logLevel: 'silent',
  });
  for (const app of ['a', 'b', 'c']) {
    const response = await get('POST', '/v1/reservations', {
      idempotency_key: `q-${app}`,
      subject: { tenant: 'acme', app },
      action: { kind: 'llm.completion', name: 'm' },
      estimate: { unit: 'TOKENS', amount: 10 },
    });
    expect(response.status).toBe(200);
  }
});
afterAll(async () => {
  await server.close();
});
afterEach(() => {
  expect(recorder.violations, recorder.violations.join('\n')).toEqual([]);
});

async function get(method: string, path: string, body?: unknown, admin = false) {
  const headers: Record<string, string> = admin
    ? { 'X-Admin-API-Key': ADMIN_KEY }
    : { 'X-Cycles-API-Key': API_KEY };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await recorder.fetch(`${server.url}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function expect400(path: string, field: string, admin = false) {
  const response = await get('GET', path, undefined, admin);
  expect([
    path,
    response.status,
    response.body.error,
    (response.body.details as { field?: string })?.field,
  ]).toEqual([path, 400, 'INVALID_REQUEST', field]);
}

describe('list queries', () => {
  it.each([
    ['/v1/reservations?cursor=garbage', 'cursor'],
    ['/v1/reservations?cursor=1', 'cursor'],
    ['/v1/balances?tenant=acme&cursor=garbage', 'cursor'],
    ['/v1/reservations?from=abc', 'from'],
    ['/v1/reservations?finalized_to=2026-13-45T00:00:00Z', 'finalized_to'],
    ['/v1/reservations?from_ms=abc', 'from_ms'],
    ['/v1/reservations?expiresFromMs=1', 'expiresFromMs'],
    ['/v1/reservations?sortBy=status', 'sortBy'],
    ['/v1/reservations?next_cursor=x', 'next_cursor'],
    ['/v1/reservations?limit=abc', 'limit'],
    ['/v1/reservations?limit=0', 'limit'],
    ['/v1/reservations?limit=201', 'limit'],
    ['/v1/reservations?limit=1&limit=2', 'limit'],
    ['/v1/reservations?status=DONE', 'status'],
    ['/v1/reservations?sort_dir=up', 'sort_dir'],
    ['/v1/balances?tenant=acme&include_children=maybe', 'include_children'],
    ['/v1/balances?tenant=acme&includeChildren=true', 'includeChildren'],
    ['/v1/balances?tenant=acme&limit=9223372036854775808', 'limit'],
    ['/v1/balances?tenant=acme&tenant=other', 'tenant'],
  ])('%s → 400 naming %s', (path, field) => expect400(path, field));

  it('ignores parameters it does not know (the spec: additive parameters MUST be ignored)', async () => {
    expect((await get('GET', '/v1/reservations?some_future_param=1')).status).toBe(200);
    expect((await get('GET', '/v1/balances?tenant=acme&some_future_param=1')).status).toBe(200);
    const blank = await get('GET', '/v1/reservations?from=&to=&expires_from=&cursor=');
    expect(blank.status).toBe(200);
  });

  it('pages through every row with next_cursor, also when include or limit change', async () => {
    for (const base of ['/v1/reservations?status=ACTIVE', '/v1/balances?tenant=acme']) {
      const rows: unknown[] = [];
      let path = `${base}&limit=1`;
      for (let page = 0; page < 10; page++) {
        const response = await get('GET', path);
        expect(response.status).toBe(200);
        rows.push(...((response.body.reservations ?? response.body.balances) as unknown[]));
        const next = response.body.next_cursor as string | undefined;
        if (next === undefined) break;
        path = `${base}&limit=${page % 2 === 0 ? 2 : 1}&include=metadata&cursor=${encodeURIComponent(next)}`;
      }
      expect(rows).toHaveLength(base.includes('balances') ? 4 : 3);
    }
  });

  it('refuses a cursor reused under other filters', async () => {
    const first = await get('GET', '/v1/reservations?status=ACTIVE&limit=1');
    const cursor = encodeURIComponent(first.body.next_cursor as string);
    await expect400(`/v1/reservations?status=COMMITTED&limit=1&cursor=${cursor}`, 'cursor');
    await expect400(`/v1/reservations?limit=1&cursor=${cursor}`, 'cursor');
    expect((await get('GET', `/v1/reservations?limit=1&status=ACTIVE&cursor=${cursor}`)).status).toBe(200);
  });
});

describe('admin queries', () => {
  it('refuse any parameter but scope and unit, and repeats', async () => {
    await expect400('/v1/admin/budgets?scope=tenant:acme&unit=TOKENS&units=TOKENS', 'units', true);
    await expect400('/v1/admin/budgets?scope=tenant:acme&unit=TOKENS&unit=CREDITS', 'unit', true);
    await expect400('/v1/admin/budgets?scope=tenant:acme', 'unit', true);
    expect(
      (await get('GET', '/v1/admin/budgets?scope=tenant:acme&unit=TOKENS', undefined, true)).status,
    ).toBe(200);
  });
});
