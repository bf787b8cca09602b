import 'reflect-metadata';
import {
  ACME,
  API_KEYS,
  ChatTestBed,
  chargedOf,
  exhaustBudget,
  GLOBEX,
  INPUT_PRICE,
  MODEL,
  OUTPUT_PRICE,
  priceOf,
  sseEvents,
} from '@cycles-guard/example-chat/testing';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createChatApp } from '../src/server.ts';

const bed = new ChatTestBed();
let nest: INestApplication | undefined;
beforeAll(() => bed.start());
afterEach(async () => {
  await nest?.close();
  nest = undefined;
  await bed.reset();
});
afterAll(() => bed.close());
const ledger = (tenant: string) => bed.ledger(tenant);

/** The real app module on the Express platform, listening on a free port, with fresh budgets per tenant. */
async function chatApp(dailyBudgetMicrocents: number): Promise<string> {
  const cycles = bed.budgets(dailyBudgetMicrocents);
  nest = await createChatApp({ cycles, client: bed.client, modelId: MODEL, apiKeys: API_KEYS });
  nest.useLogger(false);
  await nest.listen(0, '127.0.0.1');
  return (await nest.getUrl()).replace('[::1]', '127.0.0.1');
}

describe('POST /chat', () => {
  it('answers through Bedrock and charges the tenant exactly what the call cost', async () => {
    const app = await chatApp(5_000_000);
    const response = await request(app)
      .post('/chat')
      .set(ACME)
      .send({ message: 'Hello there', maxTokens: 256 });
    expect(response.status).toBe(200);
    const { usage, budget } = response.body;
    expect(response.body).toMatchObject({ tenant: 'acme', model: MODEL, stopReason: 'max_tokens' });
    expect(response.body.reply.length).toBeGreaterThan(0);
    expect(usage.outputTokens).toBe(256);
    expect(bed.emulator.requests[0]).toMatchObject({ operation: 'Converse', outputTokens: 256 });
    expect(budget).toMatchObject({ requestedMaxTokens: 256, grantedMaxTokens: 256, capped: false });
    expect(budget.chargedMicrocents).toBe(priceOf(usage));
    expect(await ledger('acme')).toEqual({ spent: budget.chargedMicrocents, reserved: 0 });
  });

  it('reports the remaining budget before the request in X-Cycles-Budget-* headers', async () => {
    const app = await chatApp(5_000_000);
    const first = await request(app).post('/chat').set(ACME).send({ message: 'one' });
    const second = await request(app).post('/chat').set(ACME).send({ message: 'two' });
    expect(second.headers['x-cycles-budget-remaining']).toBe(
      String(5_000_000 - first.body.budget.chargedMicrocents),
    );
    expect(second.headers['x-cycles-budget-scope']).toBe('tenant:acme');
    expect(second.headers['x-cycles-budget-unit']).toBe('USD_MICROCENTS');
  });

  it('refuses unknown API keys (401) and bad bodies (400, naming the field) without reserving', async () => {
    const app = await chatApp(5_000_000);
    const anonymous = await request(app).post('/chat').send({ message: 'hi' });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error).toBe('UNAUTHORIZED');
    expect(
      (await request(app).post('/chat').set({ 'x-api-key': 'nope' }).send({ message: 'hi' })).status,
    ).toBe(401);
    const empty = await request(app).post('/chat').set(ACME).send({ message: '' });
    expect(empty.status).toBe(400);
    expect(empty.body).toMatchObject({ error: 'INVALID_REQUEST', field: 'message' });
    const tooLong = await request(app).post('/chat').set(ACME).send({ message: 'hi', maxTokens: 100_000 });
    expect(tooLong.body).toMatchObject({ error: 'INVALID_REQUEST', field: 'maxTokens' });
    expect(bed.emulator.requests).toHaveLength(0);
    expect(await ledger('acme')).toBeUndefined();
  });
});

describe('budget exhaustion', () => {
  it('caps calls to what is left, then answers 429 with the documented body and headers', async () => {
    // $0.002 a day: about two full 256-token answers.
    const app = await chatApp(200_000);
    const { answers, denied } = await exhaustBudget(() =>
      request(app).post('/chat').set(ACME).send({ message: 'Write a long story', maxTokens: 256 }),
    );
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    expect(answers.some((answer) => answer.body.budget.capped === true)).toBe(true);
    expect(denied?.status).toBe(429);
    const body = denied!.body;
    expect(body).toMatchObject({ error: 'BUDGET_EXCEEDED', scope: 'tenant:acme' });
    expect(body.message).toEqual(expect.any(String));
    // Less than the cheapest call it allows (64 output tokens) is left.
    expect(body.remaining).toBeLessThan(64 * OUTPUT_PRICE);
    expect(body.retryAfterSeconds).toBeGreaterThan(0);
    expect(body.retryAfterSeconds).toBeLessThanOrEqual(86_400);
    expect(denied!.headers['retry-after']).toBe(String(body.retryAfterSeconds));
    expect(denied!.headers['content-type']).toMatch(/application\/json/);
    expect(denied!.headers['x-cycles-budget-remaining']).toBe(String(body.remaining));
    const charged = chargedOf(answers);
    expect(await ledger('acme')).toEqual({ spent: charged, reserved: 0 });
    expect(charged).toBeLessThanOrEqual(200_000);
    // The denied call never reached Bedrock.
    expect(bed.emulator.requests).toHaveLength(answers.length);
  });

  it('denies the stream endpoint with 429 before any event is sent', async () => {
    const app = await chatApp(10_000);
    const response = await request(app).get('/chat/stream').query({ message: 'hi' }).set(ACME);
    expect(response.status).toBe(429);
    expect(response.headers['content-type']).toMatch(/application\/json/);
    expect(response.body).toMatchObject({ error: 'BUDGET_EXCEEDED', scope: 'tenant:acme' });
    expect(bed.emulator.requests).toHaveLength(0);
  });
});

describe('GET /chat/stream', () => {
  it('streams the answer as SSE deltas, then commits the call and reports it in the done event', async () => {
    const app = await chatApp(5_000_000);
    const response = await request(app)
      .get('/chat/stream')
      .query({ message: 'Stream please', maxTokens: 200 })
      .set(ACME);
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/text\/event-stream/);
    // The tenant's budget is created by this first call, so there was no balance to report yet.
    expect(response.headers['x-cycles-budget-remaining']).toBeUndefined();
    const all = sseEvents(response.text);
    const deltas = all.filter((event) => event.event === 'delta');
    expect(deltas.length).toBe(Math.ceil(200 / 16));
    const done = all.at(-1)!;
    expect(done.event).toBe('done');
    const usage = done.data.usage as { inputTokens: number; outputTokens: number };
    expect(usage.outputTokens).toBe(200);
    const charged = (done.data.budget as { chargedMicrocents: number }).chargedMicrocents;
    expect(charged).toBe(priceOf(usage));
    expect(bed.emulator.requests[0]).toMatchObject({ operation: 'ConverseStream', outputTokens: 200 });
    expect(await ledger('acme')).toEqual({ spent: charged, reserved: 0 });
  });

  it('aborts Bedrock when the client leaves mid-stream and settles the hold', async () => {
    const url = await chatApp(5_000_000);
    bed.emulator.latency.perChunkMs = 20;
    const controller = new AbortController();
    const response = await fetch(`${url}/chat/stream?message=long&maxTokens=2000`, {
      headers: ACME,
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    let text = '';
    while (!text.includes('event: delta')) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    await expect.poll(() => bed.emulator.requests[0]?.aborted).toBe(true);
    expect(bed.emulator.requests[0]!.outputTokens).toBeLessThan(300);
    await expect.poll(async () => (await ledger('acme'))?.reserved).toBe(0);
    expect((await ledger('acme'))!.spent).toBeGreaterThan(0);
  });
});

describe('Bedrock failures', () => {
  it("answers a refused call 502 with Bedrock's error type, and does not charge the tenant", async () => {
    const app = await chatApp(5_000_000);
    bed.emulator.faults.push({ kind: 'throttle' });
    const response = await request(app).post('/chat').set(ACME).send({ message: 'hi' });
    expect(response.status).toBe(502);
    expect(response.body).toEqual({
      error: 'BEDROCK_ERROR',
      type: 'ThrottlingException',
      message: 'Too many requests, please wait before trying again.',
    });
    expect(await ledger('acme')).toEqual({ spent: 0, reserved: 0 });
  });

  it('ends the stream with an error event when Bedrock fails mid-stream, and settles the hold', async () => {
    const app = await chatApp(5_000_000);
    bed.emulator.faults.push({ kind: 'exceptionMidStream', afterChunks: 3 });
    const response = await request(app)
      .get('/chat/stream')
      .query({ message: 'hi', maxTokens: 200 })
      .set(ACME);
    expect(response.status).toBe(200);
    const all = sseEvents(response.text);
    expect(all.some((event) => event.event === 'delta')).toBe(true);
    expect(all.at(-1)?.event).toBe('error');
    // Output was produced and may be billed: never $0, at most the hold (ConverseStream reports usage last).
    const settled = await ledger('acme');
    expect(settled?.reserved).toBe(0);
    expect(settled?.spent).toBeGreaterThan(0);
    expect(settled?.spent).toBeLessThanOrEqual(200 * OUTPUT_PRICE + 100 * INPUT_PRICE);
  });
});

describe('GET /balances and tenant isolation', () => {
  it('reflects what the tenant spent, and only that tenant', async () => {
    const app = await chatApp(5_000_000);
    const before = await request(app).get('/balances').set(ACME);
    expect(before.body).toEqual({ tenant: 'acme', balances: [] });
    const first = await request(app).post('/chat').set(ACME).send({ message: 'one' });
    const second = await request(app).get('/chat/stream').query({ message: 'two' }).set(ACME);
    const streamed = sseEvents(second.text).at(-1)!.data.budget as { chargedMicrocents: number };
    const spent = first.body.budget.chargedMicrocents + streamed.chargedMicrocents;
    const after = await request(app).get('/balances').set(ACME);
    expect(after.body.tenant).toBe('acme');
    expect(after.body.balances).toEqual([
      {
        scope: 'tenant:acme',
        unit: 'USD_MICROCENTS',
        allocated: 5_000_000,
        spent,
        reserved: 0,
        remaining: 5_000_000 - spent,
        resetsAt: expect.stringMatching(/T00:00:00\.000Z$/),
      },
    ]);
    expect((await request(app).get('/balances').set(GLOBEX)).body).toEqual({
      tenant: 'globex',
      balances: [],
    });
  });

  it('keeps concurrent tenants apart: one exhausting its budget does not touch the other', async () => {
    const url = await chatApp(300_000);
    const call = (headers: Record<string, string>) =>
      request(url).post('/chat').set(headers).send({ message: 'Write a long story', maxTokens: 256 });
    const [acme, globex] = await Promise.all([
      Promise.all(Array.from({ length: 20 }, () => call(ACME))),
      Promise.all(Array.from({ length: 2 }, () => call(GLOBEX))),
    ]);
    expect(acme.some((response) => response.status === 429)).toBe(true);
    expect(globex.every((response) => response.status === 200)).toBe(true);
    expect(await ledger('acme')).toEqual({ spent: chargedOf(acme), reserved: 0 });
    expect(await ledger('globex')).toEqual({ spent: chargedOf(globex), reserved: 0 });
    expect(chargedOf(acme)).toBeLessThanOrEqual(300_000);
    const balances = (await request(url).get('/balances').set(GLOBEX)).body.balances;
    expect(balances[0]).toMatchObject({ scope: 'tenant:globex', spent: chargedOf(globex) });
  });
});
