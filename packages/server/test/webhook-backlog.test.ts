import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';
import { LOOPBACK_WEBHOOKS } from './support/loopback-webhooks.ts';
import { useRedisServer } from './support/redis-server.ts';

// A tenant's slow endpoint (answers 200, but after 1.5 s) cannot grow the server's unfinished deliveries
// past `webhookMaxBacklog` per subscription: the hostile-tenant probe queued ~35,000 behind 5 such
// subscriptions. Past the bound a delivery is FAILED unsent with an error saying why, counted as
// `overflow` on /metrics; another tenant's fast endpoint receives everything meanwhile, and once the
// slow endpoint keeps up again it receives every new event. Real server over HTTP, real receivers, on
// the memory ledger and on a real redis-server.

const BOUND = 20;
const SLOW_MS = 1500;
const OVERFLOW_ERROR =
  /^(\d+) deliveries to this endpoint are unfinished: it answers slower than events arrive; they can be replayed once it keeps up$/;

const redis = useRedisServer();

/** A receiver that records each path's event ids and its most requests unanswered at once. */
interface Receiver {
  base: string;
  received: Map<string, string[]>;
  mostOpen: Map<string, number>;
  open(): number;
  delayMs: number;
  close(): Promise<void>;
}

async function startReceiver(delayMs: number): Promise<Receiver> {
  const open = new Map<string, number>();
  const receiver: Receiver = {
    base: '',
    received: new Map(),
    mostOpen: new Map(),
    open: () => [...open.values()].reduce((sum, count) => sum + count, 0),
    delayMs,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((request, response) => {
    const path = request.url!;
    const now = (open.get(path) ?? 0) + 1;
    open.set(path, now);
    receiver.mostOpen.set(path, Math.max(now, receiver.mostOpen.get(path) ?? 0));
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const { event_id } = JSON.parse(Buffer.concat(chunks).toString()) as { event_id: string };
      setTimeout(() => {
        open.set(path, open.get(path)! - 1);
        receiver.received.set(path, [...(receiver.received.get(path) ?? []), event_id]);
        response.statusCode = 200;
        response.end();
      }, receiver.delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return receiver;
}

interface WireDelivery {
  event_id: string;
  status: string;
  attempts: number;
  error_message?: string;
}

const KEYS = { alpha: 'alpha-key-backlog-01', beta: 'beta-key-backlog-01' } as const;

function call(server: CyclesServer, key: string, method: string, path: string, body?: unknown) {
  return fetch(`${server.url}${path}`, {
    method,
    headers: { 'Content-Type': 'application/json', 'X-Cycles-API-Key': key },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function subscribe(server: CyclesServer, key: string, url: string): Promise<string> {
  const created = await call(server, key, 'POST', '/v1/webhooks', {
    url,
    event_types: ['reservation.observed_allowed'],
  });
  expect(created.status).toBe(201);
  return ((await created.json()) as { subscription: { subscription_id: string } }).subscription
    .subscription_id;
}

/** `count` observe-mode reserves of `tenant`, `concurrency` at a time: one `reservation.observed_allowed` each. */
async function reserve(
  server: CyclesServer,
  tenant: keyof typeof KEYS,
  from: number,
  count: number,
  concurrency = 10,
) {
  let next = from;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < from + count) {
        const answer = await call(server, KEYS[tenant], 'POST', '/v1/reservations', {
          idempotency_key: `${tenant}-${next++}`,
          subject: { tenant },
          action: { kind: 'llm.completion', name: 'm' },
          estimate: { unit: 'TOKENS', amount: 1 },
          observe_mode: 'OBSERVE',
        });
        expect(answer.status).toBe(200);
      }
    }),
  );
}

/** Every delivery of a subscription, all pages. */
async function deliveries(server: CyclesServer, key: string, id: string): Promise<WireDelivery[]> {
  const all: WireDelivery[] = [];
  let cursor: string | undefined;
  do {
    const page = (await (
      await call(
        server,
        key,
        'GET',
        `/v1/webhooks/${id}/deliveries?limit=100${cursor === undefined ? '' : `&cursor=${cursor}`}`,
      )
    ).json()) as { deliveries: WireDelivery[]; next_cursor?: string };
    all.push(...page.deliveries);
    cursor = page.next_cursor;
  } while (cursor !== undefined);
  return all;
}

/** Waits until no delivery of the subscriptions is PENDING or RETRYING. */
async function settled(server: CyclesServer, key: string, ids: string[]): Promise<void> {
  for (let waited = 0; waited < 20_000; waited += 100) {
    const unfinished = (await Promise.all(ids.map((id) => deliveries(server, key, id))))
      .flat()
      .filter((delivery) => delivery.status === 'PENDING' || delivery.status === 'RETRYING');
    if (unfinished.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('deliveries still unfinished after 20 s');
}

async function overflowCount(server: CyclesServer): Promise<number> {
  const text = await (
    await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${ADMIN_KEY}` } })
  ).text();
  return Number(/^cycles_webhook_deliveries_total\{outcome="overflow"\} (\d+)$/m.exec(text)?.[1] ?? 0);
}

describe.each([
  ['memory', () => ({})],
  ['redis', () => ({ ledger: { type: 'redis' as const, url: redis.server.url, keyPrefix: 'backlog:' } })],
])('a slow endpoint on the %s ledger', (_name, ledger) => {
  it('holds at most webhookMaxBacklog unfinished deliveries; the rest fail unsent, others are unaffected', async () => {
    const slow = await startReceiver(SLOW_MS);
    const fast = await startReceiver(0);
    const server = await startCyclesServer({
      port: 0,
      adminApiKey: ADMIN_KEY,
      apiKeys: { [KEYS.alpha]: 'alpha', [KEYS.beta]: 'beta' },
      ledgers: [
        { scope: 'tenant:alpha', unit: 'TOKENS', allocated: 1000 },
        { scope: 'tenant:beta', unit: 'TOKENS', allocated: 1000 },
      ],
      logLevel: 'silent',
      webhookSecurity: LOOPBACK_WEBHOOKS,
      webhookMaxBacklog: BOUND,
      ...ledger(),
    });
    try {
      const slowIds = [
        await subscribe(server, KEYS.alpha, `${slow.base}/s0`),
        await subscribe(server, KEYS.alpha, `${slow.base}/s1`),
      ];
      const fastId = await subscribe(server, KEYS.beta, `${fast.base}/beta`);

      // alpha floods its slow endpoint; beta sends at a pace its fast endpoint keeps up with.
      await Promise.all([reserve(server, 'alpha', 0, 300), reserve(server, 'beta', 0, 100, 2)]);
      await settled(server, KEYS.alpha, slowIds);
      await settled(server, KEYS.beta, [fastId]);

      // The slow endpoint never had more than the bound of one subscription's deliveries at once.
      for (const path of ['/s0', '/s1']) {
        expect(slow.mostOpen.get(path)).toBeGreaterThan(0);
        expect(slow.mostOpen.get(path)).toBeLessThanOrEqual(BOUND);
      }
      let overflowed = 0;
      for (const [index, id] of slowIds.entries()) {
        const listed = await deliveries(server, KEYS.alpha, id);
        expect(listed).toHaveLength(300);
        const failed = listed.filter((delivery) => delivery.status === 'FAILED');
        const succeeded = listed.filter((delivery) => delivery.status === 'SUCCESS');
        expect(failed.length + succeeded.length).toBe(300);
        expect(failed.length).toBeGreaterThan(0);
        for (const delivery of failed) {
          // Refused when the subscription held the bound, never sent.
          expect(Number(OVERFLOW_ERROR.exec(delivery.error_message ?? '')?.[1])).toBe(BOUND);
          expect(delivery.attempts).toBe(0);
        }
        // At least once for every delivery within the bound: each SUCCESS was received.
        const received = new Set(slow.received.get(`/s${index}`));
        for (const delivery of succeeded) expect(received.has(delivery.event_id)).toBe(true);
        overflowed += failed.length;
      }
      expect(await overflowCount(server)).toBe(overflowed);

      // Another tenant's fast endpoint received every one of its events.
      const beta = await deliveries(server, KEYS.beta, fastId);
      expect(beta).toHaveLength(100);
      expect(beta.every((delivery) => delivery.status === 'SUCCESS')).toBe(true);
      expect(new Set(fast.received.get('/beta'))).toEqual(new Set(beta.map((d) => d.event_id)));

      // Once the endpoint keeps up (answers at once, events one at a time: a burst of 40 could again
      // outrun a bound of 20), every new event is delivered again.
      slow.delayMs = 0;
      await reserve(server, 'alpha', 300, 40, 1);
      await settled(server, KEYS.alpha, slowIds);
      for (const [index, id] of slowIds.entries()) {
        const newest = (await deliveries(server, KEYS.alpha, id)).slice(0, 40);
        expect(newest.every((delivery) => delivery.status === 'SUCCESS')).toBe(true);
        const received = new Set(slow.received.get(`/s${index}`));
        for (const delivery of newest) expect(received.has(delivery.event_id)).toBe(true);
      }
      expect(await overflowCount(server)).toBe(overflowed);
    } finally {
      await server.close();
      await slow.close();
      await fast.close();
    }
  }, 60_000);
});
