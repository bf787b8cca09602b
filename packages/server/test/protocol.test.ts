import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { createContractRecorder, SPEC_OPERATIONS } from './support/contract.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';

// The wire surface of the server, byte by byte: every response goes through the contract recorder,
// which validates it against the spec, and the last test checks every spec operation was exercised.

const recorder = createContractRecorder();
const ACME_KEY = 'acme-key-0001';
const OTHER_KEY = 'other-key-0001';
const logLines: Record<string, unknown>[] = [];
let server: CyclesServer;

beforeEach(async () => {
  server = await startCyclesServer({
    port: 0,
    adminApiKey: ADMIN_KEY,
    apiKeys: { [ACME_KEY]: 'acme', [OTHER_KEY]: 'other' },
    ledgers: [
      { scope: 'tenant:acme', unit: 'TOKENS', allocated: 10_000 },
      { scope: 'tenant:acme/app:chat', unit: 'TOKENS', allocated: 5_000 },
      { scope: 'tenant:other', unit: 'TOKENS', allocated: 10_000 },
    ],
    bodyLimitBytes: 4096,
    logLevel: 'info',
    logStream: { write: (line: string) => void logLines.push(JSON.parse(line)) },
  });
});

afterEach(async () => {
  await server.close();
  expect(recorder.violations, recorder.violations.join('\n')).toEqual([]);
});

afterAll(() => {
  const missing = SPEC_OPERATIONS.filter((operation) => !recorder.exercised.has(operation));
  expect(missing, `spec operations this suite never exercised: ${missing.join(', ')}`).toEqual([]);
});

interface Sent {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function send(
  method: string,
  path: string,
  options: { key?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<Sent> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key !== null) headers['X-Cycles-API-Key'] = options.key ?? ACME_KEY;
  let payload: string | undefined = options.raw;
  if (options.body !== undefined) payload = JSON.stringify(options.body);
  if (payload !== undefined && headers['Content-Type'] === undefined)
    headers['Content-Type'] = 'application/json';
  const response = await recorder.fetch(`${server.url}${path}`, { method, headers, body: payload });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? {} : JSON.parse(text) };
}

let counter = 0;
const key = (prefix: string) => `${prefix}-${++counter}`;

function reserveBody(extra: Record<string, unknown> = {}) {
  return {
    idempotency_key: key('reserve'),
    subject: { tenant: 'acme', app: 'chat' },
    action: { kind: 'llm.completion', name: 'model-x' },
    estimate: { unit: 'TOKENS', amount: 1000 },
    ...extra,
  };
}

async function reserve(extra: Record<string, unknown> = {}): Promise<string> {
  const response = await send('POST', '/v1/reservations', { body: reserveBody(extra) });
  expect(response.status).toBe(200);
  return response.body.reservation_id as string;
}

describe('runtime operations', () => {
  it('reserve → commit: 200 with exactly the spec fields, tenant header, and a balances read', async () => {
    const reserved = await send('POST', '/v1/reservations', { body: reserveBody() });
    expect(reserved.status).toBe(200);
    expect(reserved.headers.get('x-cycles-tenant')).toBe('acme');
    expect(reserved.body).toMatchObject({
      decision: 'ALLOW',
      affected_scopes: ['tenant:acme', 'tenant:acme/app:chat'],
      reserved: { unit: 'TOKENS', amount: 1000 },
    });
    const id = reserved.body.reservation_id as string;
    const committed = await send('POST', `/v1/reservations/${id}/commit`, {
      body: {
        idempotency_key: key('commit'),
        actual: { unit: 'TOKENS', amount: 600 },
        metrics: { tokens_output: 5 },
      },
    });
    expect(committed.body).toEqual({
      status: 'COMMITTED',
      charged: { unit: 'TOKENS', amount: 600 },
      released: { unit: 'TOKENS', amount: 400 },
    });
    const balances = await send('GET', '/v1/balances?tenant=acme&app=chat');
    expect(balances.body.balances).toEqual([
      expect.objectContaining({
        scope: 'app:chat',
        scope_path: 'tenant:acme/app:chat',
        remaining: { unit: 'TOKENS', amount: 4400 },
        spent: { unit: 'TOKENS', amount: 600 },
      }),
    ]);
  });

  it('release, extend, get and list reservations', async () => {
    const first = await reserve();
    const extended = await send('POST', `/v1/reservations/${first}/extend`, {
      body: { idempotency_key: key('extend'), extend_by_ms: 30_000 },
    });
    expect(extended.status).toBe(200);
    expect(extended.body.status).toBe('ACTIVE');
    const detail = await send('GET', `/v1/reservations/${first}`);
    expect(detail.body).toMatchObject({
      reservation_id: first,
      status: 'ACTIVE',
      scope_path: 'tenant:acme/app:chat',
    });
    const released = await send('POST', `/v1/reservations/${first}/release`, {
      body: { idempotency_key: key('release'), reason: 'not needed' },
    });
    expect(released.body).toEqual({ status: 'RELEASED', released: { unit: 'TOKENS', amount: 1000 } });
    const listed = await send('GET', '/v1/reservations?tenant=acme&status=RELEASED');
    expect(
      (listed.body.reservations as { reservation_id: string }[]).map((row) => row.reservation_id),
    ).toEqual([first]);
  });

  it('decide and dry_run evaluate without holding; events answer 201', async () => {
    const decided = await send('POST', '/v1/decide', {
      body: {
        idempotency_key: key('decide'),
        subject: { tenant: 'acme', app: 'chat' },
        action: { kind: 'llm.completion', name: 'm' },
        estimate: { unit: 'TOKENS', amount: 6000 },
      },
    });
    expect(decided.body).toMatchObject({ decision: 'DENY', reason_code: 'BUDGET_EXCEEDED' });
    const dryRun = await send('POST', '/v1/reservations', { body: reserveBody({ dry_run: true }) });
    expect(dryRun.body.decision).toBe('ALLOW');
    expect(dryRun.body.reservation_id).toBeUndefined();
    const event = await send('POST', '/v1/events', {
      body: {
        idempotency_key: key('event'),
        subject: { tenant: 'acme' },
        action: { kind: 'tool.call', name: 'search' },
        actual: { unit: 'TOKENS', amount: 25 },
        client_time_ms: 1,
      },
    });
    expect(event.status).toBe(201);
    expect(event.body).toMatchObject({ status: 'APPLIED' });
  });

  it('replays a reserve with the same key and body; a changed body under that key is 409 IDEMPOTENCY_MISMATCH', async () => {
    const body = reserveBody();
    const first = await send('POST', '/v1/reservations', { body });
    const again = await send('POST', '/v1/reservations', {
      body,
      headers: { 'X-Idempotency-Key': body.idempotency_key },
    });
    const { remaining_ttl_ms: _a, ...firstRest } = first.body;
    const { remaining_ttl_ms: _b, ...againRest } = again.body;
    expect(againRest).toEqual(firstRest);
    expect(again.headers.get('x-request-id')).not.toBe(first.headers.get('x-request-id'));
    const changed = await send('POST', '/v1/reservations', {
      body: { ...body, estimate: { unit: 'TOKENS', amount: 1 } },
    });
    expect(changed.status).toBe(409);
    expect(changed.body.error).toBe('IDEMPOTENCY_MISMATCH');
  });

  it('maps budget errors to their status and code: 409, 404, 410-class paths and 400 UNIT_MISMATCH', async () => {
    const exceeded = await send('POST', '/v1/reservations', {
      body: reserveBody({ estimate: { unit: 'TOKENS', amount: 9_999_999 } }),
    });
    expect([exceeded.status, exceeded.body.error]).toEqual([409, 'BUDGET_EXCEEDED']);
    const missing = await send('POST', '/v1/reservations', {
      body: reserveBody({
        subject: { tenant: 'acme', app: 'chat' },
        estimate: { unit: 'CREDITS', amount: 1 },
      }),
    });
    expect([missing.status, missing.body.error]).toEqual([400, 'UNIT_MISMATCH']);
    const unknown = await send('GET', '/v1/reservations/no-such-reservation');
    expect([unknown.status, unknown.body.error]).toEqual([404, 'NOT_FOUND']);
    const noBudget = await send('POST', '/v1/events', {
      body: {
        idempotency_key: key('event'),
        subject: { tenant: 'acme', workspace: 'nowhere' },
        action: { kind: 'k', name: 'n' },
        actual: { unit: 'TOKENS', amount: 1 },
      },
    });
    expect(noBudget.status).toBe(201);
  });
});

describe('auth and tenancy', () => {
  it('401 without a key or with an unknown one', async () => {
    const none = await send('POST', '/v1/reservations', { key: null, body: reserveBody() });
    expect([none.status, none.body.error]).toEqual([401, 'UNAUTHORIZED']);
    const wrong = await send('GET', '/v1/balances?tenant=acme', { key: 'not-a-key-at-all' });
    expect([wrong.status, wrong.body.error]).toEqual([401, 'UNAUTHORIZED']);
  });

  it("403 for another tenant's subject, reservation, balances and list", async () => {
    const id = await reserve();
    const subject = await send('POST', '/v1/reservations', { key: OTHER_KEY, body: reserveBody() });
    expect([subject.status, subject.body.error]).toEqual([403, 'FORBIDDEN']);
    const decide = await send('POST', '/v1/decide', {
      key: OTHER_KEY,
      body: {
        idempotency_key: key('d'),
        subject: { tenant: 'acme' },
        action: { kind: 'k', name: 'n' },
        estimate: { unit: 'TOKENS', amount: 1 },
      },
    });
    expect(decide.status).toBe(403);
    for (const [method, path, body] of [
      ['GET', `/v1/reservations/${id}`, undefined],
      [
        'POST',
        `/v1/reservations/${id}/commit`,
        { idempotency_key: 'c', actual: { unit: 'TOKENS', amount: 1 } },
      ],
      ['POST', `/v1/reservations/${id}/release`, { idempotency_key: 'r' }],
      ['POST', `/v1/reservations/${id}/extend`, { idempotency_key: 'e', extend_by_ms: 1000 }],
      ['GET', '/v1/balances?tenant=acme', undefined],
      ['GET', '/v1/reservations?tenant=acme', undefined],
    ] as const) {
      const response = await send(method, path, { key: OTHER_KEY, body });
      expect([path, response.status, response.body.error]).toEqual([path, 403, 'FORBIDDEN']);
    }
    const own = await send('GET', '/v1/balances?tenant=other', { key: OTHER_KEY });
    expect((own.body.balances as unknown[]).length).toBe(1);
  });

  it('the admin key may read, list (with tenant) and force-release, but not reserve', async () => {
    const id = await reserve();
    const admin = { key: null, headers: { 'X-Admin-API-Key': ADMIN_KEY } };
    expect((await send('GET', `/v1/reservations/${id}`, admin)).status).toBe(200);
    const noTenant = await send('GET', '/v1/reservations', admin);
    expect([noTenant.status, noTenant.body.error]).toEqual([400, 'INVALID_REQUEST']);
    expect((await send('GET', '/v1/reservations?tenant=acme', admin)).status).toBe(200);
    const released = await send('POST', `/v1/reservations/${id}/release`, {
      ...admin,
      body: { idempotency_key: key('force') },
    });
    expect(released.body.status).toBe('RELEASED');
    const reserveAsAdmin = await send('POST', '/v1/reservations', { ...admin, body: reserveBody() });
    expect(reserveAsAdmin.status).toBe(401);
  });
});

describe('request hygiene', () => {
  it.each([
    ['an unknown top-level field', { ttl: 5 }, 'ttl'],
    ['an unknown subject field', { subject: { tenant: 'acme', team: 'x' } }, 'subject.team'],
    [
      'an unknown amount field',
      { estimate: { unit: 'TOKENS', amount: 1, currency: 'x' } },
      'estimate.currency',
    ],
    [
      'a policy_keys that is not an object',
      { action: { kind: 'k', name: 'n', policy_keys: [] } },
      'action.policy_keys',
    ],
  ])('400 INVALID_REQUEST for %s, naming it', async (_label, extra, field) => {
    const response = await send('POST', '/v1/reservations', { body: reserveBody(extra) });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: 'INVALID_REQUEST', details: { field } });
  });

  it('metadata, dimensions and custom metrics stay open maps', async () => {
    const id = await reserve({
      subject: { tenant: 'acme', app: 'chat', dimensions: { user: 'u-1' } },
      metadata: { anything: { nested: true } },
    });
    const committed = await send('POST', `/v1/reservations/${id}/commit`, {
      body: {
        idempotency_key: key('c'),
        actual: { unit: 'TOKENS', amount: 1 },
        metrics: { custom: { x: 1 } },
      },
    });
    expect(committed.status).toBe(200);
  });

  it('400 for bad JSON, a non-object body and a key mismatch; 413 for an oversized body, 415 for a wrong media type', async () => {
    const badJson = await send('POST', '/v1/reservations', { raw: '{"idempotency_key":' });
    expect([badJson.status, badJson.body.error]).toEqual([400, 'INVALID_REQUEST']);
    const array = await send('POST', '/v1/decide', { raw: '[1,2]' });
    expect([array.status, array.body.error]).toEqual([400, 'INVALID_REQUEST']);
    const huge = await send('POST', '/v1/reservations', {
      body: reserveBody({ metadata: { blob: 'x'.repeat(10_000) } }),
    });
    expect([huge.status, huge.body.error]).toEqual([413, 'INVALID_REQUEST']);
    expect(huge.body.message).toMatch(/larger/);
    const text = await send('POST', '/v1/reservations', {
      raw: 'hello',
      headers: { 'Content-Type': 'text/plain' },
    });
    expect([text.status, text.body.error]).toEqual([415, 'INVALID_REQUEST']);
    const mismatch = await send('POST', '/v1/reservations', {
      body: reserveBody(),
      headers: { 'X-Idempotency-Key': 'something-else' },
    });
    expect([mismatch.status, mismatch.body.error]).toEqual([400, 'INVALID_REQUEST']);
    expect(mismatch.body.details).toEqual({ field: 'X-Idempotency-Key' });
  });

  it('404 NOT_FOUND with the protocol body for unknown routes; evidence and JWKS are not published', async () => {
    const route = await send('GET', '/v1/nope');
    expect([route.status, route.body.error]).toEqual([404, 'NOT_FOUND']);
    const evidence = await send('GET', `/v1/evidence/${'a'.repeat(64)}`, { key: null });
    expect([evidence.status, evidence.body.error]).toEqual([404, 'NOT_FOUND']);
    const jwks = await send('GET', '/v1/.well-known/cycles-jwks.json', { key: null });
    expect([jwks.status, jwks.body.error]).toEqual([404, 'NOT_FOUND']);
  });
});

describe('correlation headers and logs', () => {
  const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
  const OTHER_TRACE = '0af7651916cd43dd8448eb211c80319c';

  it('takes the trace id from traceparent, then X-Cycles-Trace-Id, else makes one; malformed counts as absent', async () => {
    const fromParent = await send('GET', '/v1/balances?tenant=acme', {
      headers: { traceparent: `00-${TRACE}-00f067aa0ba902b7-01`, 'X-Cycles-Trace-Id': OTHER_TRACE },
    });
    expect(fromParent.headers.get('x-cycles-trace-id')).toBe(TRACE);
    const fromFlat = await send('GET', '/v1/balances?tenant=acme', {
      headers: { traceparent: 'garbage', 'X-Cycles-Trace-Id': OTHER_TRACE },
    });
    expect(fromFlat.headers.get('x-cycles-trace-id')).toBe(OTHER_TRACE);
    const zero = await send('GET', '/v1/balances?tenant=acme', {
      headers: { traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01` },
    });
    expect(zero.headers.get('x-cycles-trace-id')).toMatch(/^[0-9a-f]{32}$/);
    expect(zero.headers.get('x-cycles-trace-id')).not.toBe('0'.repeat(32));
    const error = await send('POST', '/v1/reservations', {
      key: null,
      body: reserveBody(),
      headers: { 'X-Cycles-Trace-Id': TRACE },
    });
    expect(error.body).toMatchObject({ trace_id: TRACE, request_id: error.headers.get('x-request-id') });
  });

  it('logs one line per request with status, tenant and trace id, never the key', async () => {
    logLines.length = 0;
    await send('GET', '/v1/balances?tenant=acme', { headers: { 'X-Cycles-Trace-Id': TRACE } });
    const line = logLines.find((entry) => entry.msg === 'request');
    expect(line).toMatchObject({
      method: 'GET',
      url: '/v1/balances',
      status: 200,
      tenant: 'acme',
      trace_id: TRACE,
    });
    expect(JSON.stringify(logLines)).not.toContain(ACME_KEY);
  });

  it('GET /health answers ok', async () => {
    const response = await fetch(`${server.url}/health`);
    expect(await response.json()).toEqual({ status: 'ok', ledger: 'memory' });
  });
});
