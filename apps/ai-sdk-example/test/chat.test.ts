import type { AddressInfo } from 'node:net';
import type { BedrockEmulatorOptions } from '@cycles-guard/bedrock-emulator';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createBudgets, createChatApp } from '../src/app.ts';
import { readConfig } from '../src/config.ts';
import { type ChatModel, connectModel } from '../src/model.ts';

const MODEL = 'anthropic.claude-3-5-haiku-20241022-v1:0';
const ACME_KEY = 'test-key-acme';
const API_KEYS = new Map([[ACME_KEY, 'acme']]);
const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const resource of open.splice(0)) await resource.close();
});

async function start(
  options: { daily?: number; run?: number; toolCalls?: number; emulator?: BedrockEmulatorOptions } = {},
) {
  const connection: ChatModel = await connectModel({
    awsRegion: undefined,
    modelId: MODEL,
    emulator: options.emulator ?? { outputTokens: 60 },
    emulatorToolCalls: options.toolCalls ?? 1,
  });
  const cycles = createBudgets(options.daily ?? 5_000_000, options.run ?? 1_000_000);
  const server = createChatApp({ cycles, model: connection.model, apiKeys: API_KEYS }).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  open.push(connection, { close: () => new Promise((resolve) => server.close(resolve)) });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const emulator = connection.emulator!;
  const chat = (body: unknown, key: string | null = ACME_KEY, signal?: AbortSignal) =>
    fetch(`${url}/chat`, {
      method: 'POST',
      signal,
      headers: { 'content-type': 'application/json', ...(key === null ? {} : { 'x-api-key': key }) },
      body: JSON.stringify(body),
    });
  const tenantRow = async (scope = 'tenant:acme') => {
    const { balances } = await cycles.authority.getBalances({ tenant: 'acme' });
    return balances.find((balance) => balance.scopePath === scope);
  };
  return { url, emulator, cycles, chat, tenantRow };
}

/** Parses a server-sent-events body into `{ event, data }` pairs. */
function events(body: string): { event: string; data: Record<string, unknown> }[] {
  return body
    .split('\n\n')
    .filter((block) => block.startsWith('event: '))
    .map((block) => {
      const [eventLine, dataLine] = block.split('\n');
      return { event: eventLine!.slice(7), data: JSON.parse(dataLine!.slice(6)) };
    });
}

describe('POST /chat (AI SDK streamText with tools, guarded)', () => {
  it('streams a tool step and an answer; each step is capped and charged to the tenant', async () => {
    const app = await start();
    const reply = await app.chat({ prompt: 'What is the weather in Lisbon?' });
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toContain('text/event-stream');
    const stream = events(await reply.text());
    const names = stream.map((entry) => entry.event);
    expect(names.filter((name) => name === 'step')).toHaveLength(2);
    expect(names).toContain('tool-call');
    expect(stream.find((entry) => entry.event === 'tool-result')?.data).toMatchObject({
      toolName: 'getWeather',
      output: { city: 'Lisbon' },
    });
    expect(names.at(-1)).toBe('done');
    expect(app.emulator.requests.map((request) => request.maxTokens)).toEqual([1024, 1024]);
    const done = stream.at(-1)!.data as { chargedMicrocents: number; steps: number };
    const tenant = await app.tenantRow();
    expect(done.steps).toBe(2);
    expect(tenant?.spent?.amount).toBe(done.chargedMicrocents);
    expect(tenant?.reserved?.amount).toBe(0);
  });

  it('answers 429 with a JSON body when the tenant budget cannot pay for a call, sending nothing to Bedrock', async () => {
    const app = await start({ daily: 1_000 });
    const reply = await app.chat({ prompt: 'Hi' });
    expect(reply.status).toBe(429);
    expect(await reply.json()).toMatchObject({ error: 'BUDGET_EXCEEDED' });
    expect(app.emulator.requests).toHaveLength(0);
  });

  it('stops a runaway tool loop at the per-request run budget with an error event', async () => {
    // Every step "calls" the tool. A step here costs about $0.0003 but asks to hold about $0.004
    // (1,024 Haiku output tokens): the run's $0.0012 cap lets a few capped steps through, then denies.
    const run = 120_000;
    const app = await start({ run, toolCalls: Number.POSITIVE_INFINITY });
    const reply = await app.chat({ prompt: 'Keep checking the weather.' });
    const stream = events(await reply.text());
    const error = stream.find((entry) => entry.event === 'error');
    expect(error?.data).toMatchObject({ error: 'BUDGET_EXCEEDED' });
    expect(stream.filter((entry) => entry.event === 'step').length).toBeGreaterThanOrEqual(1);
    // Only this run spent from the tenant, so the tenant's spend is the run's: within its cap.
    const tenant = await app.tenantRow();
    expect(tenant?.spent?.amount).toBeGreaterThan(0);
    expect(tenant?.spent?.amount).toBeLessThanOrEqual(run);
    expect(tenant?.reserved?.amount).toBe(0);
  });

  it('a client disconnect mid-stream aborts the Bedrock request and settles the step once', async () => {
    const app = await start({
      toolCalls: 0,
      emulator: { outputTokens: 1000, chunkTokens: 4, latency: { perChunkMs: 5 } },
    });
    const client = new AbortController();
    const reply = await app.chat({ prompt: 'Write a long essay.' }, ACME_KEY, client.signal);
    const reader = reply.body!.getReader();
    await reader.read(); // the first event arrived: Bedrock is streaming
    client.abort();
    await vi.waitFor(() => expect(app.emulator.requests[0]?.aborted).toBe(true), { timeout: 5_000 });
    await vi.waitFor(async () => expect((await app.tenantRow())?.reserved?.amount).toBe(0), {
      timeout: 5_000,
    });
    const tenant = await app.tenantRow();
    expect(tenant?.spent?.amount).toBeGreaterThan(0);
    expect(app.emulator.requests[0]?.outputTokens).toBeLessThan(1000);
    // The aborted run's ledger went with it.
    await vi.waitFor(
      async () => {
        const { balances } = await app.cycles.authority.getBalances({ tenant: 'acme' });
        expect(balances.map((balance) => balance.scopePath)).toEqual(['tenant:acme']);
      },
      { timeout: 5_000 },
    );
  });

  it('rejects a request without a known API key (401, no budget touched) or without a prompt (400)', async () => {
    const app = await start();
    expect((await app.chat({ prompt: 'Hi' }, null)).status).toBe(401);
    // A key nobody issued gets no tenant, so it can never create a template budget.
    expect((await app.chat({ prompt: 'Hi' }, 'made-up-key')).status).toBe(401);
    expect(await app.cycles.authority.getBalances({ tenant: 'acme' })).toMatchObject({ balances: [] });
    const reply = await app.chat({ nothing: true });
    expect(reply.status).toBe(400);
    expect(await reply.json()).toMatchObject({ error: 'INVALID_REQUEST', field: 'prompt' });
  });

  it('GET /balances shows the tenant; a finished request leaves no run ledger behind', async () => {
    const app = await start();
    await (await app.chat({ prompt: 'Hi' })).text();
    const scopes = async () => {
      const reply = await fetch(`${app.url}/balances`, { headers: { 'x-api-key': ACME_KEY } });
      return ((await reply.json()) as { balances: { scope: string }[] }).balances.map((row) => row.scope);
    };
    // The run ledger goes when the request's handler returns, just after the last byte was sent.
    await vi.waitFor(async () => expect(await scopes()).toEqual(['tenant:acme']), { timeout: 5_000 });
    expect((await app.tenantRow())?.spent?.amount).toBeGreaterThan(0);
  });
});

describe('readConfig', () => {
  it('defaults to the emulator, and names the variable of an invalid value', () => {
    expect(readConfig({})).toMatchObject({
      awsRegion: undefined,
      modelId: MODEL,
      runBudgetMicrocents: 1_000_000,
    });
    expect([...readConfig({ API_KEYS: 'k1:acme, k2:globex' }).apiKeys]).toEqual([
      ['k1', 'acme'],
      ['k2', 'globex'],
    ]);
    expect(() => readConfig({ API_KEYS: 'no-tenant' })).toThrow(/API_KEYS/);
    expect(readConfig({ AWS_REGION: 'us-west-2' }).modelId).toBe(`us.${MODEL}`);
    expect(readConfig({ AWS_REGION: 'us-west-2', BEDROCK_EMULATOR: '1' }).awsRegion).toBeUndefined();
    expect(() => readConfig({ RUN_BUDGET_USD: 'lots' })).toThrow(/RUN_BUDGET_USD/);
  });
});
