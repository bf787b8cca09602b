import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LOOPBACK_WEBHOOKS } from '../../test/support/loopback-webhooks.ts';
import { WebhookPoster } from './http-post.ts';
import { WebhookUrlGuard } from './url-guard.ts';
import { DEFAULT_BLOCKED_CIDR_RANGES } from './webhook-security.ts';

// The poster keeps connections open and remembers each URL's check, so both must end when the policy
// changes: a keep-alive socket to an address the admin has just blocked must not carry one more POST.
// A real receiver on loopback; the name resolves only through the guard's resolver hook.

const receivers: Server[] = [];
const posters: WebhookPoster[] = [];

afterEach(async () => {
  for (const poster of posters.splice(0)) poster.close();
  for (const receiver of receivers.splice(0)) {
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
  }
});

async function receiver(): Promise<{ port: number; requests: string[]; connections: () => number }> {
  const requests: string[] = [];
  let connections = 0;
  const endpoint = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      requests.push(body);
      response.statusCode = 204;
      response.end();
    });
  });
  endpoint.on('connection', () => connections++);
  receivers.push(endpoint);
  await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
  return { port: (endpoint.address() as AddressInfo).port, requests, connections: () => connections };
}

function poster(guard: WebhookUrlGuard): WebhookPoster {
  const created = new WebhookPoster(guard, 2000);
  posters.push(created);
  return created;
}

const JSON_HEADERS = { 'Content-Type': 'application/json' };
const BLOCKING_LOOPBACK = { ...LOOPBACK_WEBHOOKS, blocked_cidr_ranges: [...DEFAULT_BLOCKED_CIDR_RANGES] };

describe('WebhookPoster', () => {
  it('reuses checked connections while the policy stands, resolving a name once per connection', async () => {
    const { port, requests, connections } = await receiver();
    let lookups = 0;
    const guard = new WebhookUrlGuard(LOOPBACK_WEBHOOKS, async () => {
      lookups++;
      return [{ address: '127.0.0.1', family: 4 }];
    });
    const post = poster(guard);
    for (let i = 0; i < 20; i++) {
      expect(await post.post(`http://hooks.invalid:${port}/hook?n=1`, `{"n":${i}}`, JSON_HEADERS)).toBe(204);
    }
    expect(requests).toEqual(Array.from({ length: 20 }, (_, i) => `{"n":${i}}`));
    // undici may open a second socket while the first is being released; it never opens one per POST.
    expect(connections()).toBeLessThanOrEqual(2);
    expect(lookups).toBe(connections());
  });

  it('sends nothing over a pooled connection once the admin blocks its address', async () => {
    const { port, requests, connections } = await receiver();
    const guard = new WebhookUrlGuard(LOOPBACK_WEBHOOKS, async () => [{ address: '127.0.0.1', family: 4 }]);
    const post = poster(guard);
    const url = `http://hooks.invalid:${port}/hook`;
    expect(await post.post(url, '{"before":true}', JSON_HEADERS)).toBe(204);
    await new Promise((resolve) => setTimeout(resolve, 50)); // the socket is back in the pool, idle
    guard.replace(BLOCKING_LOOPBACK);
    await expect(post.post(url, '{"after":true}', JSON_HEADERS)).rejects.toThrow(
      '127.0.0.1 (hooks.invalid), inside blocked range 127.0.0.0/8',
    );
    expect(requests).toEqual(['{"before":true}']);
    expect(connections()).toBe(1);
  });

  it('keeps its connections when an equal policy is applied again', async () => {
    const { port, requests, connections } = await receiver();
    const guard = new WebhookUrlGuard(LOOPBACK_WEBHOOKS, async () => [{ address: '127.0.0.1', family: 4 }]);
    const post = poster(guard);
    const url = `http://hooks.invalid:${port}/hook`;
    expect(await post.post(url, '{"n":1}', JSON_HEADERS)).toBe(204);
    await new Promise((resolve) => setTimeout(resolve, 50));
    guard.replace(structuredClone(LOOPBACK_WEBHOOKS));
    expect(await post.post(url, '{"n":2}', JSON_HEADERS)).toBe(204);
    expect(requests).toEqual(['{"n":1}', '{"n":2}']);
    expect(connections()).toBe(1);
  });

  it('checks a literal address again under a new policy, and delivers again once it is allowed', async () => {
    const { port, requests } = await receiver();
    const guard = new WebhookUrlGuard(LOOPBACK_WEBHOOKS);
    const post = poster(guard);
    const url = `http://127.0.0.1:${port}/hook`;
    expect(await post.post(url, '{"n":1}', JSON_HEADERS)).toBe(204);
    guard.replace(BLOCKING_LOOPBACK);
    await expect(post.post(url, '{"n":2}', JSON_HEADERS)).rejects.toThrow('inside blocked range 127.0.0.0/8');
    guard.replace(LOOPBACK_WEBHOOKS);
    expect(await post.post(url, '{"n":3}', JSON_HEADERS)).toBe(204);
    expect(requests).toEqual(['{"n":1}', '{"n":3}']);
  });

  it('refuses a URL the policy refuses every time, remembering only URLs that passed', async () => {
    const guard = new WebhookUrlGuard({ ...LOOPBACK_WEBHOOKS, allow_http: false });
    const post = poster(guard);
    for (let i = 0; i < 2; i++) {
      await expect(post.post('http://127.0.0.1:9/hook', '{}', JSON_HEADERS)).rejects.toThrow('must be https');
    }
  });
});
