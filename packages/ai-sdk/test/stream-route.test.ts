import type { AddressInfo } from 'node:net';
import { type BedrockEmulator, startBedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { runWithBudget } from '@cycles-guard/core';
import { cyclesErrorHandler, cyclesMiddleware as expressBudget } from '@cycles-guard/express';
import { stepCountIs, streamText, tool } from 'ai';
import express5 from 'express';
import express4 from 'express4';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { budgetDeniedResponse, cyclesErrorText, streamStarted } from '../src/index.ts';
import { budget, guardedModel, HAIKU } from './helpers.ts';

// Haiku: 80 microcents per input token, 400 per output token. A first step asking for 256 output tokens
// holds about 110k; this budget pays for it but not for a second step that reads a 60k-character tool result.
const FIRST_STEP_ONLY = 150_000;
const TOO_SMALL = 1_000;

let emulator: BedrockEmulator | undefined;
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
  await emulator?.close();
  emulator = undefined;
});

const bigLookup = {
  lookup: tool({
    description: 'Looks a city up.',
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => ({ city, notes: 'a long history '.repeat(4_000) }),
  }),
};

async function listen(app: ReturnType<typeof express5>): Promise<string> {
  const server = app.listen(0);
  await new Promise((resolve) => server.once('listening', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe.each([
  { name: 'Express 5', express: express5 },
  { name: 'Express 4', express: express4 },
])('a streamed route on $name (pipeTextStreamToResponse)', ({ express }) => {
  async function start(allocated: number) {
    emulator = await startBedrockEmulator({ port: 0, outputTokens: 40 });
    const b = budget(allocated);
    const model = guardedModel(emulator.url, HAIKU, {});
    const app = express();
    app.use(express5.json());
    app.use(expressBudget({ cycles: b.cycles, subject: () => ({ tenant: 'acme' }) }));
    // The documented route: wait for the first step, then pipe; any error goes to `next` (safe on 4 and 5).
    app.post('/chat', async (request, response, next) => {
      try {
        const result = streamText({
          model,
          prompt: request.body.prompt,
          maxOutputTokens: 256,
          onError: () => {},
        });
        await streamStarted(result);
        result.pipeTextStreamToResponse(response);
      } catch (error) {
        next(error);
      }
    });
    app.use(cyclesErrorHandler());
    return { url: await listen(app), ...b };
  }

  const chat = (url: string) =>
    fetch(`${url}/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'Hi' }),
    });

  it('answers a denied first step 429 with the error body, before any byte of the stream', async () => {
    const { url, state } = await start(TOO_SMALL);
    const response = await chat(url);
    expect(response.status).toBe(429);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    expect(await response.json()).toMatchObject({ error: 'BUDGET_EXCEEDED', scope: 'tenant:acme' });
    expect(emulator?.requests).toHaveLength(0);
    expect((await state()).reserved).toBe(0);
  });

  it('streams the whole answer with 200 when the step is allowed, and commits it', async () => {
    const { url, state } = await start(1e12);
    const response = await chat(url);
    expect(response.status).toBe(200);
    expect((await response.text()).length).toBeGreaterThan(0);
    expect(emulator?.requests).toHaveLength(1);
    await expect.poll(async () => (await state()).spent).toBeGreaterThan(0);
    expect((await state()).reserved).toBe(0);
  });
});

describe('a web Response route handler', () => {
  async function handlerWith(
    allocated: number,
    emulatorOptions: Parameters<typeof startBedrockEmulator>[0] = {},
  ) {
    emulator = await startBedrockEmulator({ port: 0, outputTokens: 40, ...emulatorOptions });
    const b = budget(allocated);
    const model = guardedModel(emulator.url, HAIKU, { cycles: b.cycles });
    // The documented handler (e.g. a Next.js / Hono POST route).
    const POST = async (request: Request): Promise<Response> => {
      const { prompt } = (await request.json()) as { prompt: string };
      const result = streamText({
        model,
        prompt,
        tools: bigLookup,
        maxOutputTokens: 256,
        stopWhen: stepCountIs(5),
        onError: () => {},
      });
      return (
        (await budgetDeniedResponse(result)) ?? result.toUIMessageStreamResponse({ onError: cyclesErrorText })
      );
    };
    const call = () =>
      runWithBudget({ cycles: b.cycles, subject: { tenant: 'acme' } }, () =>
        POST(
          new Request('http://localhost/chat', { method: 'POST', body: JSON.stringify({ prompt: 'Hi' }) }),
        ),
      );
    return { call, ...b };
  }

  it('answers a denied first step 429 with the error body and nothing streamed', async () => {
    const { call, state } = await handlerWith(TOO_SMALL);
    const response = await call();
    expect(response.status).toBe(429);
    expect(await response.json()).toMatchObject({ error: 'BUDGET_EXCEEDED', scope: 'tenant:acme' });
    expect(emulator?.requests).toHaveLength(0);
    expect((await state()).reserved).toBe(0);
  });

  it("a later step's denial reaches the client as the typed error in the stream", async () => {
    const { call, state } = await handlerWith(FIRST_STEP_ONLY, {
      toolCalls: { tool: 'lookup', turns: 1, input: () => ({ city: 'Lisbon' }) },
    });
    const response = await call();
    expect(response.status).toBe(200);
    const body = await response.text();
    const errors = body
      .split('\n')
      .filter((line) => line.startsWith('data: {'))
      .map((line) => JSON.parse(line.slice('data: '.length)) as { type: string; errorText?: string })
      .filter((part) => part.type === 'error');
    expect(errors).toHaveLength(1);
    expect(JSON.parse(errors[0]?.errorText ?? '')).toMatchObject({
      error: 'BUDGET_EXCEEDED',
      scope: 'tenant:acme',
    });
    expect(emulator?.requests).toHaveLength(1);
    const after = await state();
    expect(after.reserved).toBe(0);
    expect(after.spent).toBeGreaterThan(0);
    expect(after.spent).toBeLessThanOrEqual(FIRST_STEP_ONLY);
  });

  it('keeps other errors out of the stream text', () => {
    expect(cyclesErrorText(new Error('secret detail'))).toBe('An error occurred.');
  });
});
