import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type CyclesServer, type StartServerOptions, startCyclesServer } from '../src/server.ts';
import type { HostResolver } from '../src/webhooks/url-guard.ts';
import { DEFAULT_BLOCKED_CIDR_RANGES } from '../src/webhooks/webhook-security.ts';
import { govFetch } from './support/gov-fetch.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';
import { LOOPBACK_WEBHOOKS } from './support/loopback-webhooks.ts';

// A tenant can point a subscription anywhere: the server must refuse private, loopback and link-local
// destinations when the subscription is written (the host resolved, every address checked) and again
// when it delivers, connecting only to the address it just checked (DNS rebinding). Real servers, real
// receivers; DNS answers come from a resolver hook, so a name can change its answer between the two.

const ACME_KEY = 'acme-key-ssrf-0001';
const PUBLIC = '203.0.113.10';
const started: CyclesServer[] = [];
const receivers: Server[] = [];
const violations: string[] = [];

afterEach(async () => {
  for (const server of started.splice(0)) await server.close();
  for (const receiver of receivers.splice(0)) await new Promise((resolve) => receiver.close(resolve));
  expect(violations.splice(0), 'GOV contract violations').toEqual([]);
});

async function start(options: Partial<StartServerOptions> = {}): Promise<CyclesServer> {
  const server = await startCyclesServer({
    port: 0,
    adminApiKey: ADMIN_KEY,
    apiKeys: { [ACME_KEY]: 'acme' },
    ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1000 }],
    logLevel: 'silent',
    ...options,
  });
  started.push(server);
  return server;
}

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON bodies, GOV-checked by send()
type Json = any;

async function send(
  server: CyclesServer,
  method: string,
  path: string,
  body?: unknown,
  auth: { admin: true } | { key: string } = { admin: true },
): Promise<{ status: number; body: Json }> {
  const reply = await govFetch(server.url, method, path, auth, body);
  violations.push(...reply.problems);
  return { status: reply.status, body: reply.body ?? {} };
}

function subscribe(server: CyclesServer, url: string) {
  return send(
    server,
    'POST',
    '/v1/webhooks',
    { url, event_types: ['budget.threshold_crossed'] },
    {
      key: ACME_KEY,
    },
  );
}

async function receiver(): Promise<{ port: number; hits: number[] }> {
  const hits: number[] = [];
  const endpoint = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      hits.push(Date.now());
      response.statusCode = 204;
      response.end();
    });
  });
  receivers.push(endpoint);
  await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
  return { port: (endpoint.address() as AddressInfo).port, hits };
}

async function reserve(server: CyclesServer, amount: number, key: string): Promise<void> {
  const response = await fetch(`${server.url}/v1/reservations`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Cycles-API-Key': ACME_KEY },
    body: JSON.stringify({
      idempotency_key: key,
      subject: { tenant: 'acme' },
      action: { kind: 'llm.completion', name: 'm' },
      estimate: { unit: 'TOKENS', amount },
    }),
  });
  expect(response.status).toBe(200);
}

/** One address inside each default range (and the unspecified addresses). */
const INSIDE: Record<string, string> = {
  '10.0.0.0/8': '10.20.30.40',
  '172.16.0.0/12': '172.31.255.254',
  '192.168.0.0/16': '192.168.1.1',
  '127.0.0.0/8': '127.0.0.1',
  '169.254.0.0/16': '169.254.169.254',
  '::1/128': '[::1]',
  'fc00::/7': '[fd12:3456::1]',
  '0.0.0.0/8': '0.0.0.0',
  '::/128': '[::]',
  'fe80::/10': '[fe80::1]',
  '64:ff9b::/96': '[64:ff9b::cb00:710a]',
  '64:ff9b:1::/48': '[64:ff9b:1:cb00:71::a]',
  '100.64.0.0/10': '100.100.100.200',
  '198.18.0.0/15': '198.19.255.254',
  '224.0.0.0/4': '239.255.255.250',
  '240.0.0.0/4': '255.255.255.255',
  'ff00::/8': '[ff02::1]',
};

describe('webhook URLs are checked when a subscription is written', () => {
  it('refuses an address inside each default range, naming url, the address and the range', async () => {
    const server = await start();
    expect(Object.keys(INSIDE).sort()).toEqual([...DEFAULT_BLOCKED_CIDR_RANGES].sort());
    for (const [range, host] of Object.entries(INSIDE)) {
      const refused = await subscribe(server, `https://${host}/hook`);
      expect(refused.status, host).toBe(400);
      expect(refused.body.error).toBe('INVALID_REQUEST');
      expect(refused.body.details.field, host).toBe('url');
      expect(refused.body.message, host).toContain(`inside blocked range ${range}`);
    }
    // Just outside the ranges is fine.
    for (const host of ['172.32.0.1', '11.0.0.1', '192.169.0.1', '[2001:db8::1]', '100.128.0.1']) {
      expect((await subscribe(server, `https://${host}/hook`)).status, host).toBe(201);
    }
    const listed = await send(server, 'GET', '/v1/webhooks', undefined, { key: ACME_KEY });
    expect(listed.body.subscriptions).toHaveLength(5);
  });

  it('sees through IPv4-mapped IPv6 and the decimal, hex, octal and short IPv4 spellings', async () => {
    const server = await start();
    for (const host of [
      '[::ffff:127.0.0.1]',
      '[::ffff:7f00:1]',
      '[0:0:0:0:0:ffff:a9fe:a9fe]',
      '2130706433',
      '0x7f000001',
      '0x7f.0.0.1',
      '0177.0.0.1',
      '127.1',
      '0xa9fea9fe',
      '3232235777',
    ]) {
      const refused = await subscribe(server, `https://${host}:8443/x`);
      expect(refused.status, host).toBe(400);
      expect(refused.body.message, host).toMatch(/inside blocked range/);
    }
  });

  it('sees through NAT64, 6to4, Teredo and IPv4-compatible addresses to the IPv4 address they carry', async () => {
    const server = await start({ webhookAllowHttp: true });
    const refused: [string, string][] = [
      ['[64:ff9b::7f00:1]', 'inside blocked range 64:ff9b::/96'], // 127.0.0.1 through NAT64
      ['[64:ff9b:1:7f00:0:100::]', 'inside blocked range 64:ff9b:1::/48'],
      ['[2002:7f00:1::1]', 'carries 127.0.0.1 (6to4), inside blocked range 127.0.0.0/8'],
      ['[2002:a9fe:a9fe:1::5]', 'carries 169.254.169.254 (6to4)'],
      ['[2001:0:c0a8:101:0:f227:34ff:8ef5]', 'carries 192.168.1.1 (Teredo server)'],
      [
        '[2001:0:808:808:0:f227:f5ff:fffe]',
        'carries 10.0.0.1 (Teredo client), inside blocked range 10.0.0.0/8',
      ],
      ['[::7f00:1]', 'carries 127.0.0.1 (IPv4-compatible)'],
    ];
    for (const [host, reason] of refused) {
      const answer = await subscribe(server, `http://${host}/hook`);
      expect(answer.status, host).toBe(400);
      expect(answer.body.details.field, host).toBe('url');
      expect(answer.body.message, host).toContain(reason);
    }
    // The same forms carrying public addresses (203.0.113.10, 8.8.8.8) are fine.
    for (const host of ['[2002:cb00:710a::1]', '[2001:0:808:808:0:f227:34ff:8ef5]']) {
      expect((await subscribe(server, `http://${host}/hook`)).status, host).toBe(201);
    }
  });

  it('resolves host names: one private answer among public ones refuses it, as do localhost and no answer', async () => {
    const answers: Record<string, string[]> = {
      'mixed.example': [PUBLIC, '10.0.0.5'],
      'six.example': ['fd00::7'],
      'fine.example': [PUBLIC, '2001:db8::5'],
    };
    const resolver: HostResolver = async (host) => {
      const found = answers[host];
      if (found === undefined) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
      return found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    };
    const server = await start({ webhookResolver: resolver });
    for (const [host, text] of [
      ['mixed.example', '10.0.0.5 (mixed.example), inside blocked range 10.0.0.0/8'],
      ['six.example', 'fc00::/7'],
      ['nowhere.example', 'does not resolve (ENOTFOUND)'],
    ] as const) {
      const refused = await subscribe(server, `https://${host}/hook`);
      expect(refused.status, host).toBe(400);
      expect(refused.body.message, host).toContain(text);
    }
    expect((await subscribe(server, 'https://fine.example/hook')).status).toBe(201);
    // The system resolver: localhost is the machine itself.
    const system = await start();
    const local = await subscribe(system, 'https://localhost/hook');
    expect(local.status).toBe(400);
    expect(local.body.message).toMatch(/localhost\), inside blocked range (127\.0\.0\.0\/8|::1\/128)/);
  });

  it('checks a changed URL on update and keeps the stored one when refused', async () => {
    const server = await start({ webhookResolver: async () => [{ address: PUBLIC, family: 4 }] });
    const created = await subscribe(server, 'https://hooks.example/a');
    const id = created.body.subscription.subscription_id;
    const refused = await send(
      server,
      'PATCH',
      `/v1/webhooks/${id}`,
      { url: 'https://169.254.169.254/' },
      {
        key: ACME_KEY,
      },
    );
    expect(refused.status).toBe(400);
    expect(refused.body.details.field).toBe('url');
    const kept = await send(server, 'GET', `/v1/admin/webhooks/${id}`);
    expect(kept.body.url).toBe('https://hooks.example/a');
    const admin = await send(server, 'POST', '/v1/admin/webhooks', {
      url: 'https://[::1]/',
      event_types: ['webhook.created'],
    });
    expect(admin.status).toBe(400);
  });

  it('requires https, refuses credentials in the URL, and applies allowed_url_patterns', async () => {
    const server = await start({ webhookResolver: async () => [{ address: PUBLIC, family: 4 }] });
    const http = await subscribe(server, 'http://hooks.example/a');
    expect(http.status).toBe(400);
    expect(http.body.message).toContain('must be https');
    expect((await subscribe(server, 'https://user:pw@hooks.example/a')).status).toBe(400);
    const put = await send(server, 'PUT', '/v1/admin/config/webhook-security', {
      allowed_url_patterns: ['https://*.example.com/hooks/*'],
    });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({
      blocked_cidr_ranges: [...DEFAULT_BLOCKED_CIDR_RANGES],
      allowed_url_patterns: ['https://*.example.com/hooks/*'],
      allow_http: false,
    });
    expect((await subscribe(server, 'https://a.example.com/hooks/1')).status).toBe(201);
    for (const url of [
      'https://example.org/hooks/1',
      'https://a.example.com/other',
      'https://evil.test/?x.example.com/hooks/1',
      'https://evil.test/a.example.com/hooks/1',
      'https://a.example.com.evil.test/hooks/1',
    ]) {
      const refused = await subscribe(server, url);
      expect(refused.status, url).toBe(400);
      expect(refused.body.message, url).toContain('matches none of allowed_url_patterns');
    }
  });
});

describe('GET and PUT /v1/admin/config/webhook-security', () => {
  it('answer the spec defaults, replace the whole config, and refuse bad input naming the field', async () => {
    const server = await start();
    const read = await send(server, 'GET', '/v1/admin/config/webhook-security');
    expect(read.status).toBe(200);
    expect(read.body).toEqual({
      blocked_cidr_ranges: [...DEFAULT_BLOCKED_CIDR_RANGES],
      allowed_url_patterns: [],
      allow_http: false,
    });
    for (const [body, field] of [
      [{ blocked_cidr_ranges: ['10.0.0.0/33'] }, 'blocked_cidr_ranges'],
      [{ blocked_cidr_ranges: ['not-a-range'] }, 'blocked_cidr_ranges'],
      [{ blocked_cidr_ranges: 'fc00::/7' }, 'blocked_cidr_ranges'],
      [{ allowed_url_patterns: ['*.example.com'] }, 'allowed_url_patterns'],
      [{ allow_http: 'yes' }, 'allow_http'],
      [{ allow_https: true }, 'allow_https'],
    ] as const) {
      const refused = await send(server, 'PUT', '/v1/admin/config/webhook-security', body);
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect(refused.body.details.field).toBe(field);
    }
    // Nothing refused was applied.
    expect((await send(server, 'GET', '/v1/admin/config/webhook-security')).body).toEqual(read.body);
    const replaced = await send(server, 'PUT', '/v1/admin/config/webhook-security', {
      blocked_cidr_ranges: ['10.0.0.0/8'],
      allow_http: true,
    });
    expect(replaced.body).toEqual({
      blocked_cidr_ranges: ['10.0.0.0/8'],
      allowed_url_patterns: [],
      allow_http: true,
    });
    expect((await subscribe(server, 'http://127.0.0.1:9/x')).status).toBe(201);
    expect((await subscribe(server, 'http://10.1.1.1/x')).status).toBe(400);
    expect(
      (await send(server, 'GET', '/v1/admin/config/webhook-security', undefined, { key: ACME_KEY })).status,
    ).toBe(401);
  });

  it('is set from the server config, where a bad value stops start-up naming the field', async () => {
    await expect(
      startCyclesServer({
        port: 0,
        logLevel: 'silent',
        webhookSecurity: { blocked_cidr_ranges: ['1.2.3.4/99'] } as never,
      }),
    ).rejects.toThrow(/blocked_cidr_ranges/);
  });
});

describe('webhook deliveries connect only to the address just checked', () => {
  it('delivers through the guard’s lookup: a name only the resolver knows reaches the receiver', async () => {
    const { port, hits } = await receiver();
    const server = await start({
      webhookSecurity: LOOPBACK_WEBHOOKS,
      webhookResolver: async () => [{ address: '127.0.0.1', family: 4 }],
    });
    expect((await subscribe(server, `http://receiver.invalid:${port}/hook`)).status).toBe(201);
    await reserve(server, 850, 'r1');
    await server.webhooks!.idle();
    expect(hits).toHaveLength(1);
  });

  it('refuses a name rebound to loopback after the check: nothing reaches the receiver, the attempt fails saying why', async () => {
    const { port, hits } = await receiver();
    let answer = PUBLIC;
    const server = await start({
      webhookSecurity: { ...LOOPBACK_WEBHOOKS, blocked_cidr_ranges: [...DEFAULT_BLOCKED_CIDR_RANGES] },
      webhookResolver: async () => [{ address: answer, family: 4 }],
    });
    const created = await subscribe(server, `http://rebind.invalid:${port}/hook`);
    expect(created.status).toBe(201);
    answer = '127.0.0.1'; // the attacker's DNS now points the name at the server's own machine
    await reserve(server, 850, 'r1');
    await server.webhooks!.idle();
    const id = created.body.subscription.subscription_id;
    const listed = await send(server, 'GET', `/v1/webhooks/${id}/deliveries`, undefined, { key: ACME_KEY });
    expect(listed.body.deliveries).toHaveLength(1);
    expect(listed.body.deliveries[0]).toMatchObject({ status: 'RETRYING', attempts: 1 });
    expect(listed.body.deliveries[0].error_message).toContain(
      '127.0.0.1 (rebind.invalid), inside blocked range 127.0.0.0/8',
    );
    expect(listed.body.deliveries[0]).not.toHaveProperty('response_status');
    expect(hits).toEqual([]);
  });

  it('refuses a literal address the admin blocks after the subscription was made', async () => {
    const { port, hits } = await receiver();
    const server = await start({ webhookSecurity: LOOPBACK_WEBHOOKS });
    const created = await subscribe(server, `http://127.0.0.1:${port}/hook`);
    expect(created.status).toBe(201);
    await send(server, 'PUT', '/v1/admin/config/webhook-security', { allow_http: true });
    await reserve(server, 850, 'r1');
    await server.webhooks!.idle();
    const id = created.body.subscription.subscription_id;
    const listed = await send(server, 'GET', `/v1/admin/webhooks/${id}/deliveries`);
    expect(listed.body.deliveries[0].error_message).toContain('inside blocked range 127.0.0.0/8');
    expect(hits).toEqual([]);
  });
});
