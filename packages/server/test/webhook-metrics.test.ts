import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CyclesServer, startCyclesServer } from '../src/server.ts';
import { ADMIN_KEY } from './support/http-ledger.ts';
import { LOOPBACK_WEBHOOKS } from './support/loopback-webhooks.ts';

// `/metrics` counts webhook delivery attempts by outcome (cycles_webhook_deliveries_total): read from
// the real endpoint after real deliveries to a receiver that answers 204 on one path and 500 on others.

const KEY = 'acme-key-metrics-01';
let server: CyclesServer;
let receiver: Server;
let base: string;

beforeAll(async () => {
  receiver = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.statusCode = request.url === '/ok' ? 204 : 500;
      response.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  server = await startCyclesServer({
    port: 0,
    adminApiKey: ADMIN_KEY,
    apiKeys: { [KEY]: 'acme' },
    ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1000 }],
    logLevel: 'silent',
    webhookSecurity: LOOPBACK_WEBHOOKS,
  });
});

afterAll(async () => {
  await server?.close();
  await new Promise((resolve) => receiver.close(resolve));
});

async function call(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method,
    headers: {
      'X-Cycles-API-Key': KEY,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function subscribe(path: string, maxRetries: number): Promise<string> {
  const created = await call('POST', '/v1/webhooks', {
    url: `${base}${path}`,
    event_types: ['budget.threshold_crossed'],
    // The first retry waits 1.5 s: time enough to pause the subscription before it is due.
    retry_policy: { max_retries: maxRetries, initial_delay_ms: 1500 },
  });
  expect(created.status).toBe(201);
  return ((await created.json()) as { subscription: { subscription_id: string } }).subscription
    .subscription_id;
}

async function deliveries(): Promise<Record<string, number>> {
  const text = await (
    await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${ADMIN_KEY}` } })
  ).text();
  const counts: Record<string, number> = {};
  for (const [, outcome, value] of text.matchAll(
    /^cycles_webhook_deliveries_total\{outcome="(\w+)"\} (\d+)$/gm,
  )) {
    counts[outcome!] = Number(value);
  }
  return counts;
}

describe('/metrics', () => {
  it('counts delivery attempts: delivered, retried, failed and dropped', async () => {
    await subscribe('/ok', 5);
    const retrying = await subscribe('/down', 5);
    await subscribe('/down', 0);
    const reserved = await call('POST', '/v1/reservations', {
      idempotency_key: 'm1',
      subject: { tenant: 'acme' },
      action: { kind: 'llm.completion', name: 'm' },
      estimate: { unit: 'TOKENS', amount: 850 },
    });
    expect(reserved.status).toBe(200);
    await server.webhooks!.idle();
    expect(await deliveries()).toEqual({ delivered: 1, retried: 1, failed: 1 });
    // Paused before its retry is due: the retry is dropped, not sent.
    expect((await call('PATCH', `/v1/webhooks/${retrying}`, { status: 'PAUSED' })).status).toBe(200);
    await expect
      .poll(deliveries, { timeout: 5000 })
      .toEqual({ delivered: 1, retried: 1, failed: 1, dropped: 1 });
  });
});
