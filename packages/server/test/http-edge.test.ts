import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BODY_DEPTH } from '../src/http/json-body.ts';
import { type CyclesServer, MAX_URL_LENGTH, startCyclesServer } from '../src/server.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';
import { expectProtocolError, rawRequest } from './support/raw-http.ts';

// What the HTTP layer refuses itself (before any route runs) is answered in the protocol's ErrorResponse
// shape with correlation ids, on every route that takes a body, and never echoes the request's bytes.

const API_KEY = 'acme-key-0001';
const MARKER = 'ECHO-MARKER-7f3a';
let server: CyclesServer;

beforeAll(async () => {
  server = await startCyclesServer({
    port: 0,
    adminApiKey: ADMIN_KEY,
    apiKeys: { [API_KEY]: 'acme' },
    ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 10_000 }],
    bodyLimitBytes: 8192,
    logLevel: 'silent',
  });
});
afterAll(async () => {
  await server.close();
});

/** Every route that takes a JSON body, runtime and admin, with the key it needs. */
const BODY_ROUTES: [method: string, path: string, key: Record<string, string>][] = [
  ['POST', '/v1/reservations', { 'X-Cycles-API-Key': API_KEY }],
  ['POST', '/v1/reservations/rsv_1/commit', { 'X-Cycles-API-Key': API_KEY }],
  ['POST', '/v1/reservations/rsv_1/release', { 'X-Cycles-API-Key': API_KEY }],
  ['POST', '/v1/reservations/rsv_1/extend', { 'X-Cycles-API-Key': API_KEY }],
  ['POST', '/v1/decide', { 'X-Cycles-API-Key': API_KEY }],
  ['POST', '/v1/events', { 'X-Cycles-API-Key': API_KEY }],
  ['POST', '/v1/admin/budgets', { 'X-Admin-API-Key': ADMIN_KEY }],
  ['PATCH', '/v1/admin/budgets?scope=tenant:acme&unit=TOKENS', { 'X-Admin-API-Key': ADMIN_KEY }],
  ['DELETE', '/v1/admin/budgets?scope=tenant:acme&unit=TOKENS', { 'X-Admin-API-Key': ADMIN_KEY }],
  ['POST', '/v1/admin/budgets/fund?scope=tenant:acme&unit=TOKENS', { 'X-Admin-API-Key': ADMIN_KEY }],
  ['POST', '/v1/admin/templates', { 'X-Admin-API-Key': ADMIN_KEY }],
  ['PUT', '/v1/admin/tenants/acme', { 'X-Admin-API-Key': ADMIN_KEY }],
  ['POST', '/v1/admin/api-keys', { 'X-Admin-API-Key': ADMIN_KEY }],
  ['POST', '/v1/admin/sweep', { 'X-Admin-API-Key': ADMIN_KEY }],
];

async function send(method: string, path: string, headers: Record<string, string>, body?: string | Buffer) {
  const response = await fetch(`${server.url}${path}`, { method, headers, body });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

const nested = (levels: number) => `${'['.repeat(levels)}"${MARKER}"${']'.repeat(levels)}`;

describe.each(BODY_ROUTES)('%s %s', (method, path, key) => {
  const json = { ...key, 'Content-Type': 'application/json' };

  it(`400 naming the field for a body nested deeper than ${MAX_BODY_DEPTH} levels, even 4,000 (8 KB)`, async () => {
    for (const levels of [MAX_BODY_DEPTH, 4_000]) {
      const answer = await send(method, path, json, `{"metadata":${nested(levels)}}`);
      const body = expectProtocolError(answer, 400, 'INVALID_REQUEST', MARKER);
      expect(body.details).toEqual({ field: 'metadata', max_depth: MAX_BODY_DEPTH });
    }
  });

  it('415 for a charset other than UTF-8, a media type other than JSON, or a compressed body', async () => {
    const utf16 = Buffer.from(`{"idempotency_key":"${MARKER}"}`, 'utf16le');
    for (const contentType of ['application/json; charset=utf-16', 'application/json;charset=ISO-8859-1']) {
      const answer = await send(method, path, { ...key, 'Content-Type': contentType }, utf16);
      expect(expectProtocolError(answer, 415, 'INVALID_REQUEST', MARKER).details).toEqual({
        field: 'Content-Type',
      });
    }
    const gzip = await send(method, path, { ...json, 'Content-Encoding': 'gzip' }, `{"k":"${MARKER}"}`);
    expect(expectProtocolError(gzip, 415, 'INVALID_REQUEST', MARKER).details).toEqual({
      field: 'Content-Encoding',
    });
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonx']) {
      const answer = await send(method, path, { ...key, 'Content-Type': contentType }, `{"k":"${MARKER}"}`);
      expectProtocolError(answer, 415, 'INVALID_REQUEST', MARKER);
    }
  });

  it('400 for bytes that are not UTF-8, bad JSON and a __proto__ key; 413 over the body limit', async () => {
    const latin1 = Buffer.concat([
      Buffer.from(`{"k":"${MARKER}`),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}'),
    ]);
    expectProtocolError(await send(method, path, json, latin1), 400, 'INVALID_REQUEST', MARKER);
    expectProtocolError(await send(method, path, json, `{"k": ${MARKER}`), 400, 'INVALID_REQUEST', MARKER);
    const proto = `{"__proto__":{"polluted":"${MARKER}"}}`;
    expectProtocolError(await send(method, path, json, proto), 400, 'INVALID_REQUEST', MARKER);
    const large = await send(method, path, json, `{"k":"${MARKER}${'x'.repeat(9000)}"}`);
    expect(expectProtocolError(large, 413, 'INVALID_REQUEST', MARKER).details).toEqual({
      field: 'body',
      limit_bytes: 8192,
    });
  });
});

describe('the HTTP layer', () => {
  it(`parses a body up to ${MAX_BODY_DEPTH} levels deep; the ledgers bound metadata itself`, async () => {
    const reserve = (levels: number, key: string) =>
      send(
        'POST',
        '/v1/reservations',
        { 'X-Cycles-API-Key': API_KEY, 'Content-Type': 'application/json' },
        JSON.stringify({
          idempotency_key: key,
          subject: { tenant: 'acme' },
          action: { kind: 'llm.completion', name: 'm' },
          estimate: { unit: 'TOKENS', amount: 1 },
          // The body is level 1, `metadata`'s array level 2: `levels - 1` arrays reach `levels`.
          metadata: { deep: JSON.parse(nested(levels - 2)) },
        }),
      );
    // metadata at the ledgers' own limit (MAX_JSON_DEPTH) is accepted; one level more still parses
    // (room for metrics.custom, one level further down) and gets the ledger's 400 naming its path.
    expect((await reserve(MAX_BODY_DEPTH - 1, 'deep-ok')).status).toBe(200);
    const ledgerRefusal = expectProtocolError(
      await reserve(MAX_BODY_DEPTH, 'deep-ledger'),
      400,
      'INVALID_REQUEST',
    );
    expect(ledgerRefusal.details?.field).toMatch(/^metadata\.deep\./);
    const parserRefusal = expectProtocolError(
      await reserve(MAX_BODY_DEPTH + 1, 'deep-no'),
      400,
      'INVALID_REQUEST',
    );
    expect(parserRefusal.details).toMatchObject({ field: 'metadata', max_depth: MAX_BODY_DEPTH });
  });

  it('404 for an unknown route and 405 with Allow for a known path under another method, echoing neither', async () => {
    const unknown = await send('GET', `/v1/${MARKER}`, {});
    expectProtocolError(unknown, 404, 'NOT_FOUND', MARKER);
    const wrongMethod = await send('DELETE', `/v1/reservations/${MARKER}`, { 'X-Cycles-API-Key': API_KEY });
    const body = expectProtocolError(wrongMethod, 405, 'INVALID_REQUEST', MARKER);
    expect(wrongMethod.headers.get('allow')).toBe('GET, HEAD');
    expect(body.details).toEqual({ field: 'method', allowed: ['GET', 'HEAD'] });
    const decide = await send('GET', '/v1/decide', {});
    expect(decide.headers.get('allow')).toBe('POST');
    expectProtocolError(decide, 405, 'INVALID_REQUEST');
  });

  it('414 for an overlong URI or path segment, 400 for bad percent-encoding, without echoing the path', async () => {
    const longQuery = await send('GET', `/v1/balances?tenant=acme&x=${MARKER}${'a'.repeat(MAX_URL_LENGTH)}`, {
      'X-Cycles-API-Key': API_KEY,
    });
    expectProtocolError(longQuery, 414, 'INVALID_REQUEST', MARKER);
    const longId = await send('GET', `/v1/reservations/${MARKER}${'a'.repeat(600)}`, {
      'X-Cycles-API-Key': API_KEY,
    });
    expectProtocolError(longId, 414, 'INVALID_REQUEST', MARKER);
    const badEscape = await send('GET', `/v1/reservations/${MARKER}%ZZ`, { 'X-Cycles-API-Key': API_KEY });
    expectProtocolError(badEscape, 400, 'INVALID_REQUEST', MARKER);
    // Past Node's 16 KiB header limit, its parser refuses before Fastify sees a request.
    const huge = await rawRequest(server.url, `GET /v1/${MARKER}${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x`);
    expectProtocolError(huge, 414, 'INVALID_REQUEST', MARKER);
  });

  it('431 for headers too large and 400 for malformed HTTP, in the protocol shape', async () => {
    const headers = await rawRequest(
      server.url,
      `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${MARKER}${'b'.repeat(20_000)}`,
    );
    expect(expectProtocolError(headers, 431, 'INVALID_REQUEST', MARKER).details).toEqual({
      field: 'headers',
    });
    const garbage = await rawRequest(server.url, `${MARKER} / HTTP/1.1\r\nHost: x`);
    expectProtocolError(garbage, 400, 'INVALID_REQUEST', MARKER);
    const badLength = await rawRequest(
      server.url,
      'POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Length: abc',
    );
    expectProtocolError(badLength, 400, 'INVALID_REQUEST');
  });

  it('cuts a long unknown key to 64 chars and any message to 400, so a refusal never returns the body', async () => {
    const json = { 'X-Cycles-API-Key': API_KEY, 'Content-Type': 'application/json' };
    const longKey = await send(
      'POST',
      '/v1/decide',
      json,
      JSON.stringify({ [`${MARKER}${'k'.repeat(5000)}`]: 1 }),
    );
    const body = expectProtocolError(longKey, 400, 'INVALID_REQUEST');
    expect(body.details?.field).toBe(`${MARKER}${'k'.repeat(64 - MARKER.length)}…`);
    expect(longKey.text.length).toBeLessThan(1024);
    const longValue = await send(
      'POST',
      '/v1/decide',
      json,
      JSON.stringify({
        idempotency_key: 'long-value',
        subject: { tenant: 'acme' },
        action: { kind: 'llm.completion', name: 'm' },
        estimate: { unit: `TOKENS${'x'.repeat(5000)}${MARKER}`, amount: 1 },
      }),
    );
    expect(
      (expectProtocolError(longValue, 400, 'INVALID_REQUEST', MARKER).message as string).length,
    ).toBeLessThanOrEqual(401);
  });

  it('keeps X-Request-Id and the caller trace id on refusals that reach Fastify', async () => {
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    for (const path of ['/v1/nope', `/v1/reservations/${'a'.repeat(600)}`, '/v1/reservations/%ZZ']) {
      const answer = await send('GET', path, { 'X-Cycles-Trace-Id': trace });
      expect(answer.headers.get('x-cycles-trace-id')).toBe(trace);
      expect(JSON.parse(answer.text)).toMatchObject({
        trace_id: trace,
        request_id: answer.headers.get('x-request-id'),
      });
    }
  });
});
