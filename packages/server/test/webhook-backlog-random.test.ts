import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';
import { LOOPBACK_WEBHOOKS } from './support/loopback-webhooks.ts';

// Random bounds, retry policies, endpoint answers (200 or 500, 0–120 ms late) and event bursts against
// a real server and receiver: an endpoint never has more of a subscription's deliveries unanswered than
// `webhookMaxBacklog`; every delivery ends SUCCESS (received), FAILED after its retries, or FAILED
// unsent past the bound (counted as overflow); none is left unfinished.

const KEY = 'alpha-key-backlog-rand';
const OVERFLOW_ERROR =
  /^(\d+) deliveries to this endpoint are unfinished: it answers slower than events arrive; they can be replayed once it keeps up$/;

interface Answer {
  status: 200 | 500;
  delayMs: number;
}

interface Receiver {
  url: string;
  /** Event ids answered 200, by path. */
  succeeded: Map<string, Set<string>>;
  mostOpen: Map<string, number>;
  close(): Promise<void>;
}

async function startReceiver(answers: readonly Answer[]): Promise<Receiver> {
  const open = new Map<string, number>();
  const receiver = { url: '', succeeded: new Map(), mostOpen: new Map() } as Omit<Receiver, 'close'>;
  let next = 0;
  const server: Server = createServer((request, response) => {
    const path = request.url!;
    open.set(path, (open.get(path) ?? 0) + 1);
    receiver.mostOpen.set(path, Math.max(open.get(path)!, receiver.mostOpen.get(path) ?? 0));
    const answer = answers[next++ % answers.length]!;
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const { event_id } = JSON.parse(Buffer.concat(chunks).toString()) as { event_id: string };
      setTimeout(() => {
        open.set(path, open.get(path)! - 1);
        if (answer.status === 200) {
          const ids = receiver.succeeded.get(path) ?? new Set<string>();
          ids.add(event_id);
          receiver.succeeded.set(path, ids);
        }
        response.statusCode = answer.status;
        response.end();
      }, answer.delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { ...receiver, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

interface WireDelivery {
  event_id: string;
  status: string;
  attempts: number;
  error_message?: string;
}

function call(server: CyclesServer, method: string, path: string, body?: unknown) {
  return fetch(`${server.url}${path}`, {
    method,
    headers: { 'Content-Type': 'application/json', 'X-Cycles-API-Key': KEY },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function listed(server: CyclesServer, id: string): Promise<WireDelivery[]> {
  const all: WireDelivery[] = [];
  let cursor: string | undefined;
  do {
    const page = (await (
      await call(server, 'GET', `/v1/webhooks/${id}/deliveries?limit=100${cursor ? `&cursor=${cursor}` : ''}`)
    ).json()) as { deliveries: WireDelivery[]; next_cursor?: string };
    all.push(...page.deliveries);
    cursor = page.next_cursor;
  } while (cursor !== undefined);
  return all;
}

const scenario = fc.record({
  bound: fc.integer({ min: 1, max: 8 }),
  retries: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
  answers: fc.array(
    fc.record({
      status: fc.constantFrom(200, 200, 500) as fc.Arbitrary<200 | 500>,
      delayMs: fc.integer({ min: 0, max: 120 }),
    }),
    { minLength: 1, maxLength: 20 },
  ),
  events: fc.integer({ min: 5, max: 50 }),
  concurrency: fc.integer({ min: 1, max: 10 }),
});

it('never holds more than the bound per subscription, and every delivery ends accounted for', async () => {
  await fc.assert(
    fc.asyncProperty(scenario, async ({ bound, retries, answers, events, concurrency }) => {
      const receiver = await startReceiver(answers);
      const server = await startCyclesServer({
        port: 0,
        adminApiKey: ADMIN_KEY,
        apiKeys: { [KEY]: 'alpha' },
        ledgers: [{ scope: 'tenant:alpha', unit: 'TOKENS', allocated: 1000 }],
        logLevel: 'silent',
        webhookSecurity: LOOPBACK_WEBHOOKS,
        webhookMaxBacklog: bound,
      });
      try {
        const ids: string[] = [];
        for (const [index, maxRetries] of retries.entries()) {
          const created = await call(server, 'POST', '/v1/webhooks', {
            url: `${receiver.url}/s${index}`,
            event_types: ['reservation.observed_allowed'],
            retry_policy: { max_retries: maxRetries, initial_delay_ms: 100 },
            disable_after_failures: 100_000,
          });
          expect(created.status, await created.clone().text()).toBe(201);
          ids.push(
            ((await created.json()) as { subscription: { subscription_id: string } }).subscription
              .subscription_id,
          );
        }
        let next = 0;
        await Promise.all(
          Array.from({ length: concurrency }, async () => {
            while (next < events) {
              const answer = await call(server, 'POST', '/v1/reservations', {
                idempotency_key: `r-${next++}`,
                subject: { tenant: 'alpha' },
                action: { kind: 'llm.completion', name: 'm' },
                estimate: { unit: 'TOKENS', amount: 1 },
                observe_mode: 'OBSERVE',
              });
              expect(answer.status).toBe(200);
            }
          }),
        );
        // Retries wait on timers, which idle() does not: wait until nothing is unfinished.
        for (let waited = 0; waited < 10_000; waited += 50) {
          const all = (await Promise.all(ids.map((id) => listed(server, id)))).flat();
          if (all.every((delivery) => delivery.status === 'SUCCESS' || delivery.status === 'FAILED')) break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }

        let overflowed = 0;
        for (const [index, id] of ids.entries()) {
          const path = `/s${index}`;
          expect(receiver.mostOpen.get(path) ?? 0).toBeLessThanOrEqual(bound);
          const deliveries = await listed(server, id);
          expect(deliveries).toHaveLength(events);
          for (const delivery of deliveries) {
            if (delivery.status === 'SUCCESS') {
              expect(receiver.succeeded.get(path)?.has(delivery.event_id)).toBe(true);
            } else {
              expect(delivery.status).toBe('FAILED');
              const overflow = OVERFLOW_ERROR.exec(delivery.error_message ?? '');
              if (overflow === null) {
                expect(delivery).toMatchObject({ attempts: retries[index]! + 1, error_message: 'HTTP 500' });
              } else {
                expect(Number(overflow[1])).toBe(bound);
                expect(delivery.attempts).toBe(0);
                overflowed++;
              }
            }
          }
        }
        const metrics = await (
          await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${ADMIN_KEY}` } })
        ).text();
        const counted = /^cycles_webhook_deliveries_total\{outcome="overflow"\} (\d+)$/m.exec(metrics)?.[1];
        expect(Number(counted ?? 0)).toBe(overflowed);
      } finally {
        await server.close();
        await receiver.close();
      }
    }),
    { numRuns: 12 },
  );
}, 120_000);
