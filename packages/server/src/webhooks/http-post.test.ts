import { createServer, type Server } from 'node:http';
import {
  type AddressInfo,
  createServer as createTcpServer,
  type Socket,
  type Server as TcpServer,
} from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LOOPBACK_WEBHOOKS } from '../../test/support/loopback-webhooks.ts';
import { WebhookPoster } from './http-post.ts';
import { WebhookUrlGuard } from './url-guard.ts';
import { DEFAULT_BLOCKED_CIDR_RANGES } from './webhook-security.ts';

// The poster keeps connections open and remembers each URL's check, so both must end when the policy
// changes: a keep-alive socket to an address the admin has just blocked must not carry one more POST.
// A real receiver on loopback; the name resolves only through the guard's resolver hook.

const receivers: (Server | TcpServer)[] = [];
const posters: WebhookPoster[] = [];

afterEach(async () => {
  for (const poster of posters.splice(0)) poster.close();
  for (const receiver of receivers.splice(0)) {
    if ('closeAllConnections' in receiver) receiver.closeAllConnections();
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

/**
 * An HTTP/1.1 endpoint read at the socket, to see how POSTs arrive: each connection's reads (`chunks`)
 * and the bodies in order. It answers 204 to each request unless `answer` says to close the connection
 * instead (unanswered requests then get nothing).
 */
async function rawReceiver(answer: (connection: number, request: number) => boolean = () => true) {
  const bodies: string[] = [];
  const chunks: number[] = [];
  const sockets: Socket[] = [];
  const endpoint = createTcpServer((socket) => {
    const connection = chunks.push(0) - 1;
    sockets.push(socket);
    let buffered = '';
    let served = 0;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      chunks[connection]!++;
      buffered += chunk;
      for (;;) {
        const headEnd = buffered.indexOf('\r\n\r\n');
        if (headEnd < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(buffered.slice(0, headEnd))?.[1] ?? 0);
        if (buffered.length < headEnd + 4 + length) return;
        if (!answer(connection, served++)) {
          socket.destroy();
          return;
        }
        bodies.push(buffered.slice(headEnd + 4, headEnd + 4 + length));
        buffered = buffered.slice(headEnd + 4 + length);
        socket.write('HTTP/1.1 204 No Content\r\n\r\n');
      }
    });
  });
  receivers.push(endpoint);
  endpoint.on('close', () => {
    for (const socket of sockets) socket.destroy();
  });
  await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
  return { port: (endpoint.address() as AddressInfo).port, bodies, chunks };
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

  it("pipelines a batch's POSTs on its connections, written together rather than one write each", async () => {
    const { port, bodies, chunks } = await rawReceiver();
    const post = poster(new WebhookUrlGuard(LOOPBACK_WEBHOOKS));
    const url = `http://127.0.0.1:${port}/hook`;
    expect(await post.post(url, '{"n":-1}', JSON_HEADERS)).toBe(204); // one connection, open and idle
    await new Promise((resolve) => setTimeout(resolve, 50));
    const sent: Promise<number>[] = [];
    post.batch(() => {
      for (let i = 0; i < 40; i++) sent.push(post.post(url, `{"n":${i}}`, JSON_HEADERS));
    });
    expect(await Promise.all(sent)).toEqual(Array(40).fill(204));
    expect(new Set(bodies)).toEqual(
      new Set(['{"n":-1}', ...Array.from({ length: 40 }, (_, i) => `{"n":${i}}`)]),
    );
    // 40 POSTs over at most 4 connections, each written to a few times (the corked batch on the open one,
    // what each new one takes once connected), never once per POST.
    const reads = chunks.reduce((sum, n) => sum + n, 0);
    expect(chunks.length).toBeLessThanOrEqual(4);
    expect(reads).toBeLessThan(12);
  });

  it("writes a batch's POSTs on an open connection in one write, not one each", async () => {
    // The loopback merges small writes on the way (the reads above cannot tell): count them as sent.
    const { port } = await rawReceiver();
    const post = poster(new WebhookUrlGuard(LOOPBACK_WEBHOOKS));
    const url = `http://127.0.0.1:${port}/hook`;
    expect(await post.post(url, '{"n":-1}', JSON_HEADERS)).toBe(204);
    const [open] = (post as unknown as { sockets: Set<Socket> }).sockets;
    let writes = 0;
    const counted = open as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
    for (const method of ['_write', '_writev'] as const) {
      const original = counted[method].bind(open);
      counted[method] = (...args) => {
        writes++;
        return original(...args);
      };
    }
    const sent: Promise<number>[] = [];
    post.batch(() => {
      for (let i = 0; i < 16; i++) sent.push(post.post(url, `{"n":${i}}`, JSON_HEADERS));
    });
    expect(await Promise.all(sent)).toEqual(Array(16).fill(204));
    expect(writes).toBe(1);
  });

  it('sends again the pipelined POSTs a closing connection left unanswered; only the first of them fails', async () => {
    // The first connection answers its first request, then closes with the rest unanswered (a keep-alive
    // race, or an endpoint restarting): undici fails the request at the head of the pipeline (the
    // dispatcher retries it) and sends the others again on a new connection. None is lost.
    const { port, bodies } = await rawReceiver((connection, request) => connection > 0 || request === 0);
    const post = poster(new WebhookUrlGuard(LOOPBACK_WEBHOOKS));
    const url = `http://127.0.0.1:${port}/hook`;
    expect(await post.post(url, '{"n":-1}', JSON_HEADERS)).toBe(204);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const sent: Promise<number>[] = [];
    post.batch(() => {
      for (let i = 0; i < 10; i++) sent.push(post.post(url, `{"n":${i}}`, JSON_HEADERS));
    });
    const outcomes = await Promise.allSettled(sent);
    const failed = outcomes.flatMap((outcome, i) => (outcome.status === 'rejected' ? [i] : []));
    expect(failed.length).toBeLessThanOrEqual(1);
    for (let i = 0; i < 10; i++) {
      if (!failed.includes(i)) expect(bodies).toContain(`{"n":${i}}`);
    }
  });

  it('refuses a URL the policy refuses every time, remembering only URLs that passed', async () => {
    const guard = new WebhookUrlGuard({ ...LOOPBACK_WEBHOOKS, allow_http: false });
    const post = poster(guard);
    for (let i = 0; i < 2; i++) {
      await expect(post.post('http://127.0.0.1:9/hook', '{}', JSON_HEADERS)).rejects.toThrow('must be https');
    }
  });
});
