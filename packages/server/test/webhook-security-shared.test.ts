import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type RedisServer, startRedisServer } from '@cycles-guard/redis/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { DEFAULT_BLOCKED_CIDR_RANGES } from '../src/webhooks/webhook-security.ts';
import { govFetch } from './support/gov-fetch.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';
import { LOOPBACK_WEBHOOKS } from './support/loopback-webhooks.ts';

// `PUT /v1/admin/config/webhook-security` on one server of a Redis ledger binds every server on that
// Redis: stored there, picked up through the subscriptions' polled version key, and read at start by a
// server started later (whatever its own config file says). Two, then three servers on a real
// redis-server.

const KEY = 'acme-key-secshare1';
let redis: RedisServer;
let receiver: Server;
let hook: string;
let posts = 0;
const servers: CyclesServer[] = [];
const violations: string[] = [];

const config = () => ({
  port: 0,
  adminApiKey: ADMIN_KEY,
  apiKeys: { [KEY]: 'acme' },
  ledger: { type: 'redis' as const, url: redis.url, keyPrefix: 'sec-shared:' },
  ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS' as const, allocated: 1000 }],
  logLevel: 'silent' as const,
  webhookSecurity: LOOPBACK_WEBHOOKS,
});

beforeAll(async () => {
  redis = await startRedisServer();
  receiver = createServer((request, response) => {
    posts++;
    request.resume();
    request.on('end', () => {
      response.statusCode = 204;
      response.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  servers.push(await startCyclesServer(config()), await startCyclesServer(config()));
});

afterAll(async () => {
  for (const server of servers) await server.close();
  await new Promise((resolve) => receiver?.close(resolve));
  await redis?.remove();
});

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON bodies, GOV-checked by send()
type Json = any;

async function send(server: CyclesServer, method: string, path: string, admin: boolean, body?: unknown) {
  const reply = await govFetch(server.url, method, path, admin ? { admin: true } : { key: KEY }, body);
  violations.push(...reply.problems);
  return { status: reply.status, body: (reply.body ?? {}) as Json };
}

const subscribe = (server: CyclesServer) =>
  send(server, 'POST', '/v1/webhooks', false, { url: hook, event_types: ['budget.exhausted'] });

/** Polls `server`'s config until it equals `wanted` (the other servers poll Redis once a second). */
async function until(server: CyclesServer, wanted: unknown): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const read = await send(server, 'GET', '/v1/admin/config/webhook-security', true);
    if (JSON.stringify(read.body) === JSON.stringify(wanted)) return;
    if (Date.now() > deadline) expect(read.body, 'config never reached this server').toEqual(wanted);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('the webhook URL policy on a Redis ledger', () => {
  it('set on one server judges the subscription writes and probes of the others, and of servers started later', async () => {
    const [a, b] = servers as [CyclesServer, CyclesServer];
    const before = await subscribe(b);
    expect(before.status).toBe(201);
    const id = before.body.subscription.subscription_id as string;

    // A blocks loopback again (the spec defaults, http allowed).
    const strict = {
      blocked_cidr_ranges: [...DEFAULT_BLOCKED_CIDR_RANGES],
      allowed_url_patterns: [],
      allow_http: true,
    };
    expect(await send(a, 'PUT', '/v1/admin/config/webhook-security', true, { allow_http: true })).toEqual({
      status: 200,
      body: strict,
    });
    expect((await subscribe(a)).status).toBe(400);

    await until(b, strict);
    const refused = await subscribe(b);
    expect(refused.status).toBe(400);
    expect(refused.body.message).toContain('inside blocked range 127.0.0.0/8');
    const probe = await send(b, 'POST', `/v1/webhooks/${id}/test`, false);
    expect(probe.body).toMatchObject({ success: false });
    expect(probe.body.error_message).toContain('inside blocked range 127.0.0.0/8');
    expect(posts).toBe(0);

    // A server started now, its config file still saying loopback is fine, applies what Redis holds.
    const c = await startCyclesServer(config());
    servers.push(c);
    expect((await subscribe(c)).status).toBe(400);
    expect((await send(c, 'GET', '/v1/admin/config/webhook-security', true)).body).toEqual(strict);

    // And back: loopback allowed on B reaches A.
    expect((await send(b, 'PUT', '/v1/admin/config/webhook-security', true, LOOPBACK_WEBHOOKS)).status).toBe(
      200,
    );
    await until(a, LOOPBACK_WEBHOOKS);
    expect((await subscribe(a)).status).toBe(201);
    expect((await send(a, 'POST', `/v1/webhooks/${id}/test`, false)).body.success).toBe(true);
    expect(posts).toBe(1);
    expect(violations).toEqual([]);
  });
});
