import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CyclesError } from '../protocol/errors.ts';
import { createHttpAuthority } from './http-authority.ts';
import { parseRetryAfter } from './http-transport.ts';

// Transport behaviour against a scripted HTTP server: each test answers requests from a queue. The
// full protocol is tested against the real cycles-guard-server in packages/server.

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

type Reply = (response: ServerResponse, seen: Seen) => void;

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function scripted(replies: Reply[]): Promise<{ baseUrl: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((request, response) => {
    let text = '';
    request.on('data', (chunk) => {
      text += chunk;
    });
    request.on('end', () => {
      const entry: Seen = {
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: text === '' ? undefined : JSON.parse(text),
      };
      seen.push(entry);
      const reply = replies.shift();
      if (reply === undefined) {
        response.writeHead(500).end();
        return;
      }
      reply(response, entry);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Reply =>
  (response) => {
    response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  };

const hang: Reply = () => {
  // Never answers: the client's timeout must fire.
};

const RESERVED = {
  decision: 'ALLOW',
  reservation_id: 'r-1',
  affected_scopes: ['tenant:acme'],
  reserved: { unit: 'TOKENS', amount: 300 },
  expires_at_ms: 2_000_000_000_000,
};

const request = (minimum?: number) => ({
  idempotencyKey: 'k-1',
  subject: { tenant: 'acme', app: 'chat' },
  action: { kind: 'llm.completion', name: 'm' },
  estimate: { unit: 'TOKENS' as const, amount: 1000 },
  ...(minimum === undefined ? {} : { minimum }),
});

function errorBody(error: string, message = error) {
  return { error, message, request_id: 'req-1', trace_id: '0af7651916cd43dd8448eb211c80319c' };
}

describe('createHttpAuthority', () => {
  it('sends the API key, the idempotency key equal to the body key, and the wire shape', async () => {
    const { baseUrl, seen } = await scripted([json(200, RESERVED)]);
    const authority = createHttpAuthority({ baseUrl, apiKey: 'secret' });
    const response = await authority.reserve({ ...request(), ttlMs: 5000, overagePolicy: 'REJECT' });
    expect(response).toMatchObject({
      decision: 'ALLOW',
      reservationId: 'r-1',
      expiresAtMs: 2_000_000_000_000,
    });
    expect(seen[0]?.method).toBe('POST');
    expect(seen[0]?.url).toBe('/v1/reservations');
    expect(seen[0]?.headers['x-cycles-api-key']).toBe('secret');
    expect(seen[0]?.headers['x-idempotency-key']).toBe('k-1');
    expect(seen[0]?.body).toEqual({
      idempotency_key: 'k-1',
      subject: { tenant: 'acme', app: 'chat' },
      action: { kind: 'llm.completion', name: 'm' },
      estimate: { unit: 'TOKENS', amount: 1000 },
      ttl_ms: 5000,
      overage_policy: 'REJECT',
    });
  });

  it('encodes reservation ids and query strings', async () => {
    const { baseUrl, seen } = await scripted([
      json(200, { status: 'COMMITTED', charged: { unit: 'TOKENS', amount: 5 } }),
      json(200, { balances: [] }),
    ]);
    const authority = createHttpAuthority({ baseUrl, apiKey: 'k' });
    await authority.commit('a/b', { idempotencyKey: 'c-1', actual: { unit: 'TOKENS', amount: 5 } });
    await authority.getBalances({ tenant: 'acme', includeChildren: true });
    expect(seen.map((entry) => entry.url)).toEqual([
      '/v1/reservations/a%2Fb/commit',
      '/v1/balances?tenant=acme&include_children=true',
    ]);
  });

  it('turns error bodies into typed errors without retrying 4xx', async () => {
    const { baseUrl, seen } = await scripted([json(409, errorBody('BUDGET_EXCEEDED', 'short by 5'))]);
    const authority = createHttpAuthority({ baseUrl, apiKey: 'k' });
    const error = await authority.reserve(request()).catch((caught: unknown) => caught);
    expect(CyclesError.isInstance(error) && error.code).toBe('BUDGET_EXCEEDED');
    expect((error as Error).message).toBe('short by 5');
    expect(seen).toHaveLength(1);
  });

  it('retries 5xx and transport errors with the same idempotency key', async () => {
    const { baseUrl, seen } = await scripted([
      json(503, errorBody('INTERNAL_ERROR')),
      (response) => response.socket?.destroy(),
      json(200, RESERVED),
    ]);
    const authority = createHttpAuthority({ baseUrl, apiKey: 'k', retries: 2 });
    expect((await authority.reserve(request())).reservationId).toBe('r-1');
    expect(seen.map((entry) => entry.headers['x-idempotency-key'])).toEqual(['k-1', 'k-1', 'k-1']);
    expect(seen.map((entry) => (entry.body as { idempotency_key: string }).idempotency_key)).toEqual([
      'k-1',
      'k-1',
      'k-1',
    ]);
  });

  it('honours Retry-After on 429 before retrying', async () => {
    const { baseUrl, seen } = await scripted([
      json(429, errorBody('LIMIT_EXCEEDED'), { 'retry-after': '1' }),
      json(200, RESERVED),
    ]);
    const authority = createHttpAuthority({ baseUrl, apiKey: 'k' });
    const started = Date.now();
    await authority.reserve(request());
    expect(seen).toHaveLength(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('returns LimitExceededError with retryAfterMs when the wait is longer than allowed', async () => {
    const { baseUrl } = await scripted([json(429, errorBody('LIMIT_EXCEEDED'), { 'retry-after': '60' })]);
    const authority = createHttpAuthority({ baseUrl, apiKey: 'k', maxRetryAfterMs: 1000 });
    const error = await authority.reserve(request()).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'LIMIT_EXCEEDED', retryAfterMs: 60_000 });
  });

  it('fails closed with AuthorityUnavailableError when the server does not answer in time', async () => {
    const { baseUrl, seen } = await scripted([hang, hang]);
    const authority = createHttpAuthority({ baseUrl, apiKey: 'k', timeoutMs: 200, retries: 1 });
    const started = Date.now();
    const error = await authority.reserve(request()).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'AUTHORITY_UNAVAILABLE' });
    expect((error as Error).message).toMatch(/timed out/);
    expect(seen).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('fails closed when nothing listens', async () => {
    const authority = createHttpAuthority({ baseUrl: 'http://127.0.0.1:1', apiKey: 'k', retries: 0 });
    await expect(authority.getReservation('r-1')).rejects.toMatchObject({ code: 'AUTHORITY_UNAVAILABLE' });
  });

  it('a non-protocol 502 body after the retries counts as unavailable', async () => {
    const bad: Reply = (response) => response.writeHead(502).end('<html>bad gateway</html>');
    const { baseUrl } = await scripted([bad, bad]);
    const authority = createHttpAuthority({ baseUrl, apiKey: 'k', retries: 1 });
    await expect(authority.reserve(request())).rejects.toMatchObject({ code: 'AUTHORITY_UNAVAILABLE' });
  });

  it('emulates a partial hold: reads balances, retries once at what fits with the same key', async () => {
    const { baseUrl, seen } = await scripted([
      json(409, errorBody('BUDGET_EXCEEDED')),
      json(200, {
        balances: [
          { scope: 'tenant:acme', scope_path: 'tenant:acme', remaining: { unit: 'TOKENS', amount: 900 } },
          {
            scope: 'app:chat',
            scope_path: 'tenant:acme/app:chat',
            remaining: { unit: 'TOKENS', amount: 300 },
          },
          {
            scope: 'app:other',
            scope_path: 'tenant:acme/app:other',
            remaining: { unit: 'TOKENS', amount: 1 },
          },
          {
            scope: 'app:chat',
            scope_path: 'tenant:acme/app:chat',
            remaining: { unit: 'CREDITS', amount: 2 },
          },
        ],
      }),
      json(200, RESERVED),
    ]);
    const authority = createHttpAuthority({ baseUrl, apiKey: 'k' });
    const response = await authority.reserve(request(100));
    expect(response).toMatchObject({ partial: true, reserved: { amount: 300 } });
    expect(seen[1]?.url).toBe('/v1/balances?tenant=acme&limit=200');
    expect(seen[2]?.body).toMatchObject({
      idempotency_key: 'k-1',
      estimate: { unit: 'TOKENS', amount: 300 },
    });
    expect(seen[0]?.body).not.toHaveProperty('minimum');
  });

  it('below the minimum retries once at the minimum, so the server names the refusing scope', async () => {
    const { baseUrl, seen } = await scripted([
      json(409, errorBody('BUDGET_EXCEEDED')),
      json(200, {
        balances: [
          { scope: 'tenant:acme', scope_path: 'tenant:acme', remaining: { unit: 'TOKENS', amount: 50 } },
        ],
      }),
      json(409, errorBody('OVERDRAFT_LIMIT_EXCEEDED')),
    ]);
    const authority = createHttpAuthority({ baseUrl, apiKey: 'k' });
    await expect(authority.reserve(request(100))).rejects.toMatchObject({ code: 'OVERDRAFT_LIMIT_EXCEEDED' });
    expect(seen.map((entry) => entry.url)).toEqual([
      '/v1/reservations',
      '/v1/balances?tenant=acme&limit=200',
      '/v1/reservations',
    ]);
    expect(seen[2]?.body).toMatchObject({ idempotency_key: 'k-1', estimate: { amount: 100 } });
  });

  it('without a minimum, a refusal is final', async () => {
    const { baseUrl, seen } = await scripted([json(409, errorBody('BUDGET_EXCEEDED'))]);
    const authority = createHttpAuthority({ baseUrl, apiKey: 'k' });
    await expect(authority.reserve(request())).rejects.toMatchObject({ code: 'BUDGET_EXCEEDED' });
    expect(seen.map((entry) => entry.url)).toEqual(['/v1/reservations']);
  });

  it('rejects bad options naming the field', () => {
    expect(() => createHttpAuthority({ baseUrl: 'nope', apiKey: 'k' })).toThrow(/baseUrl/);
    expect(() => createHttpAuthority({ baseUrl: 'http://x', apiKey: '' })).toThrow(/apiKey/);
    expect(() => createHttpAuthority({ baseUrl: 'http://x', apiKey: 'k', timeoutMs: -1 })).toThrow(
      /timeoutMs/,
    );
  });
});

// Core's request validation runs first (what every ledger refuses); the transport's own serialization
// check stays as the backstop for bodies that reach it unvalidated.
describe('a body that cannot be serialized', () => {
  const commit = (metadata: Record<string, unknown>, custom?: Record<string, unknown>) => ({
    idempotencyKey: 'c-1',
    actual: { unit: 'TOKENS' as const, amount: 5 },
    metadata,
    ...(custom === undefined ? {} : { metrics: { custom } }),
  });
  const deep = (levels: number) => {
    const root: Record<string, unknown> = {};
    let at = root;
    for (let level = 0; level < levels; level++) {
      const next: Record<string, unknown> = {};
      at.a = next;
      at = next;
    }
    return root;
  };
  const cyclic: Record<string, unknown> = { note: 'x' };
  cyclic.self = cyclic;
  const throwing = {
    toJSON: () => {
      throw new Error('no');
    },
  };

  it.each([
    ['cyclic metadata', commit({ trace: cyclic }), /^metadata\.trace\.self/, /cyclic/],
    ['a BigInt in custom metrics', commit({}, { tokens: 10n }), /^metrics\.custom\.tokens$/, /BigInt/],
    ['metadata too deep to send', commit(deep(200_000)), /^metadata\.a\.a.*levels\)$/, /deeper than 32/],
    ['a toJSON that throws', commit({ when: throwing }), /^metadata\.when\.toJSON$/, /is a function/],
  ])(
    '%s is INVALID_REQUEST naming the field, thrown before sending and never retried',
    async (_label, body, field, message) => {
      const { baseUrl, seen } = await scripted([json(200, {}), json(200, {}), json(200, {})]);
      const authority = createHttpAuthority({ baseUrl, apiKey: 'k', retries: 2 });
      const error = await authority.commit('r-1', body).catch((caught: unknown) => caught);
      expect(CyclesError.isInstance(error) && error.code).toBe('INVALID_REQUEST');
      expect((error as CyclesError).details?.field).toMatch(field);
      expect((error as Error).message).toMatch(message);
      expect(seen).toHaveLength(0);
    },
  );

  it('applies to every operation with a body (reserve, decide, events, release, extend)', async () => {
    const { baseUrl, seen } = await scripted([]);
    const authority = createHttpAuthority({ baseUrl, apiKey: 'k' });
    const metadata = { trace: cyclic };
    const calls = [
      authority.reserve({ ...request(), metadata }),
      authority.decide({ ...request(), metadata }),
      authority.createEvent({ ...request(), actual: { unit: 'TOKENS', amount: 1 }, metadata }),
      authority.extend('r-1', { idempotencyKey: 'e', extendByMs: 10, metadata }),
      authority.release('r-1', { idempotencyKey: 10n as unknown as string }),
    ];
    for (const call of calls) await expect(call).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    expect(seen).toHaveLength(0);
  });

  it('an idempotency key fetch cannot put in a header is sent in the body only', async () => {
    const { baseUrl, seen } = await scripted([json(200, RESERVED)]);
    const authority = createHttpAuthority({ baseUrl, apiKey: 'k' });
    await authority.reserve({ ...request(), idempotencyKey: 'ключ-1' });
    expect(seen[0]?.headers['x-idempotency-key']).toBeUndefined();
    expect(seen[0]?.body).toMatchObject({ idempotency_key: 'ключ-1' });
  });

  it('an API key that is not visible ASCII is a config error, not an outage', () => {
    expect(() => createHttpAuthority({ baseUrl: 'http://x', apiKey: 'clé\n' })).toThrow(
      /apiKey must be visible ASCII/,
    );
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});
