import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { govFetch } from './support/gov-fetch.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';
import { LOOPBACK_WEBHOOKS } from './support/loopback-webhooks.ts';

// A hostile tenant points subscriptions at this host and its network in every spelling it knows. Each
// must be refused with the spec's error naming `url`, and none stored. Real server, tenant key, over
// HTTP; names resolve through the resolver hook (this machine has no outside DNS).

const KEY = 'alpha-key-urls-0001';
let server: CyclesServer;

/** Names a public resolver would answer with internal addresses (rebinding services, split DNS). */
const NAMES: Record<string, string[]> = {
  'loopback.example.com': ['127.0.0.1'],
  'metadata.example.com': ['203.0.113.10', '169.254.169.254'],
  'v6-loopback.example.com': ['::1'],
  'mapped.example.com': ['::ffff:10.0.0.1'],
};

beforeAll(async () => {
  server = await startCyclesServer({
    port: 0,
    adminApiKey: ADMIN_KEY,
    apiKeys: { [KEY]: 'alpha' },
    logLevel: 'silent',
    webhookResolver: async (host) => {
      const addresses = NAMES[host.toLowerCase().replace(/\.$/, '')];
      if (addresses === undefined) throw Object.assign(new Error('no such host'), { code: 'ENOTFOUND' });
      return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    },
  });
});
afterAll(async () => {
  await server.close();
});

const REFUSED = [
  'https://127.0.0.1/',
  'https://2130706433/', // decimal
  'https://0x7f000001/', // hex
  'https://0x7f.1/',
  'https://0177.0.0.1/', // octal
  'https://127.1/', // short
  'https://%31%32%37.0.0.1/', // percent-encoded
  'https://127。0。0。1/', // ideographic full stops
  'https://①②⑦.0.0.1/', // circled digits (IDNA maps them)
  'https://0/',
  'https://[::1]/',
  'https://[::]/',
  'https://[0:0:0:0:0:0:0:1]/',
  'https://[::ffff:127.0.0.1]/', // IPv4-mapped
  'https://[::ffff:7f00:1]/',
  'https://[::127.0.0.1]/', // IPv4-compatible
  'https://[::ffff:0:127.0.0.1]/', // IPv4-translated (SIIT, RFC 2765)
  'https://[::ffff:0:a00:1]/', // IPv4-translated 10.0.0.1
  'https://[64:ff9b::127.0.0.1]/', // NAT64
  'https://[2002:7f00:1::]/', // 6to4
  'https://[fe80::1]/',
  'https://[fd00::1]/',
  'https://169.254.169.254/',
  'https://169.254.169.254./', // trailing dot
  'https://[::ffff:a9fe:a9fe]/',
  'https://localhost/',
  'https://LOCALHOST./',
  'https://loopback.example.com/',
  'https://LOOPBACK.EXAMPLE.COM./',
  'https://metadata.example.com/', // one internal answer among public ones
  'https://v6-loopback.example.com/',
  'https://mapped.example.com/',
  'https://unknown.example.com/', // does not resolve
  'http://203.0.113.10/', // http without allow_http
  'https://user:pass@203.0.113.10/',
  'https://127.0.0.1:443@203.0.113.10/',
  'file:///etc/passwd',
  'gopher://203.0.113.10/',
  'https://[fe80::1%25eth0]/',
];

describe('a tenant’s webhook URL pointing inside', () => {
  it.each(REFUSED)('%s is refused naming url, and nothing is stored', async (url) => {
    const before = (await govFetch(server.url, 'GET', '/v1/webhooks', { key: KEY })).body.subscriptions;
    const created = await govFetch(
      server.url,
      'POST',
      '/v1/webhooks',
      { key: KEY },
      { url, event_types: ['budget.exhausted'] },
    );
    expect(created.problems).toEqual([]);
    expect(created.status).toBe(400);
    expect(created.body.error).toBe('INVALID_REQUEST');
    expect(created.body.details.field).toBe('url');
    const after = await govFetch(server.url, 'GET', '/v1/webhooks', { key: KEY });
    expect(after.body.subscriptions).toEqual(before);
  });

  it('is refused on update too, the stored URL kept', async () => {
    const created = await govFetch(
      server.url,
      'POST',
      '/v1/webhooks',
      { key: KEY },
      { url: 'https://203.0.113.10/hook', event_types: ['budget.exhausted'] },
    );
    expect(created.status).toBe(201);
    const id = created.body.subscription.subscription_id;
    for (const url of ['https://[::ffff:0:7f00:1]/', 'https://loopback.example.com/']) {
      const updated = await govFetch(server.url, 'PATCH', `/v1/webhooks/${id}`, { key: KEY }, { url });
      expect(updated.problems).toEqual([]);
      expect(updated.status).toBe(400);
      expect(updated.body.details.field).toBe('url');
    }
    const read = await govFetch(server.url, 'GET', `/v1/webhooks/${id}`, { key: KEY });
    expect(read.body.url).toBe('https://203.0.113.10/hook');
    expect((await govFetch(server.url, 'DELETE', `/v1/webhooks/${id}`, { key: KEY })).status).toBe(204);
  });

  it('is checked against the admin’s allowed_url_patterns in linear time, however long', async () => {
    const security = { allowed_url_patterns: ['https://hooks.example.com/*/*/*/*/*/end'] };
    const put = await govFetch(
      server.url,
      'PUT',
      '/v1/admin/config/webhook-security',
      { admin: true },
      security,
    );
    expect(put.status).toBe(200);
    try {
      // 2,000 characters that miss the glob: the regular expression it used to be ran over two minutes.
      const long = `https://hooks.example.com/${'a/'.repeat(1000)}x`;
      const refused = await govFetch(
        server.url,
        'POST',
        '/v1/webhooks',
        { key: KEY },
        { url: long, event_types: ['budget.exhausted'] },
      );
      expect(refused.problems).toEqual([]);
      expect(refused.status).toBe(400);
      expect(refused.body.details.field).toBe('url');
      expect(refused.body.message).toContain('allowed_url_patterns');
    } finally {
      await govFetch(server.url, 'PUT', '/v1/admin/config/webhook-security', { admin: true }, {});
    }
  });
});

describe('a tenant’s endpoint that redirects inside', () => {
  it('is not followed: the redirect is the attempt’s answer, and the blocked address gets nothing', async () => {
    // ::1 stays blocked (LOOPBACK_WEBHOOKS only lets 127.0.0.0/8 through, for the redirecting endpoint).
    let reachedInside = 0;
    const inside = createServer((_request, response) => {
      reachedInside++;
      response.end();
    });
    await new Promise<void>((resolve) => inside.listen(0, '::1', resolve));
    const insidePort = (inside.address() as AddressInfo).port;
    const redirecting = createServer((request, response) => {
      request.resume();
      response.writeHead(307, { Location: `http://[::1]:${insidePort}/metadata` }).end();
    });
    await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
    const local = await startCyclesServer({
      port: 0,
      apiKeys: { [KEY]: 'alpha' },
      logLevel: 'silent',
      webhookSecurity: LOOPBACK_WEBHOOKS,
    });
    try {
      const created = await govFetch(
        local.url,
        'POST',
        '/v1/webhooks',
        { key: KEY },
        {
          url: `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}/hook`,
          event_types: ['budget.exhausted'],
        },
      );
      expect(created.status).toBe(201);
      const probe = await govFetch(
        local.url,
        'POST',
        `/v1/webhooks/${created.body.subscription.subscription_id}/test`,
        { key: KEY },
        {},
      );
      expect(probe.problems).toEqual([]);
      expect(probe.body).toMatchObject({ success: false, response_status: 307 });
      expect(reachedInside).toBe(0);
    } finally {
      await local.close();
      await new Promise((resolve) => redirecting.close(resolve));
      await new Promise((resolve) => inside.close(resolve));
    }
  });
});
