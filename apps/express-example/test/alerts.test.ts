import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ACME,
  API_KEYS,
  ChatTestBed,
  exhaustBudget,
  GLOBEX,
  MODEL,
} from '@cycles-guard/example-chat/testing';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createChatApp } from '../src/app.ts';

// The 80 % alert of an embedded (memory-ledger) Express app: raised by the ledger as a protocol event,
// listed at GET /alerts, and posted signed to a webhook receiver, which verifies it as the spec says.

const bed = new ChatTestBed();
let receiver: Server;
const received: { headers: IncomingHttpHeaders; raw: Buffer }[] = [];
let receiverUrl = '';

beforeAll(async () => {
  await bed.start();
  receiver = createServer((incoming, answer) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      received.push({ headers: incoming.headers, raw: Buffer.concat(chunks) });
      answer.statusCode = 204;
      answer.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alerts`;
});
afterEach(() => bed.reset());
afterAll(async () => {
  await bed.close();
  await new Promise((resolve) => receiver.close(resolve));
});

const SECRET = 'alert-secret-for-tests';

function verified(raw: Buffer, header: unknown): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', SECRET).update(raw).digest('hex')}`);
  const given = Buffer.from(typeof header === 'string' ? header : '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

describe('budget alerts', () => {
  it('raise the 80 % alert once, list it, and post it signed to the webhook', async () => {
    const cycles = bed.budgets(300_000, { url: receiverUrl, secret: SECRET, allowHttp: true });
    const app = createChatApp({ cycles, bedrock: bed.client, modelId: MODEL, apiKeys: API_KEYS });
    expect((await request(app).get('/alerts').set(ACME)).body).toEqual({ tenant: 'acme', alerts: [] });
    const { denied } = await exhaustBudget(() =>
      request(app).post('/chat').set(ACME).send({ message: 'Write a long story', maxTokens: 256 }),
    );
    expect(denied?.status).toBe(429);
    const alerts = (await request(app).get('/alerts').set(ACME)).body.alerts as {
      type: string;
      threshold: number;
    }[];
    const crossed = alerts
      .filter((alert) => alert.type === 'budget.threshold_crossed')
      .map((alert) => alert.threshold);
    expect(crossed).toContain(0.8);
    expect(crossed.filter((threshold) => threshold === 0.8)).toHaveLength(1);
    // Only the tenant's own alerts.
    expect((await request(app).get('/alerts').set(GLOBEX)).body.alerts).toEqual([]);

    for (let waited = 0; received.length < crossed.length && waited < 3000; waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const posted = received.map((delivery) => ({ delivery, event: JSON.parse(delivery.raw.toString()) }));
    const eighty = posted.find(
      ({ event }) => event.data?.threshold === 0.8 && event.data?.direction === 'rising',
    );
    expect(eighty).toBeDefined();
    expect(eighty!.event).toMatchObject({
      event_type: 'budget.threshold_crossed',
      tenant_id: 'acme',
      scope: 'tenant:acme',
    });
    expect(verified(eighty!.delivery.raw, eighty!.delivery.headers['x-cycles-signature'])).toBe(true);
  });
});
