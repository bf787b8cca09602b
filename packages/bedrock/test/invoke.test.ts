import {
  ConverseCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
} from '@aws-sdk/client-bedrock-runtime';
import type { BedrockEmulator, RecordedRequest } from '@cycles-guard/bedrock-emulator';
import { type Cycles, createCycles } from '@cycles-guard/core';
import { usageCost } from '@cycles-guard/core/llm';
import { afterEach, describe, expect, it } from 'vitest';
import { cyclesBedrockPlugin, getCyclesResult } from '../src/index.ts';
import { budget, guardedSetup, sdkClient } from './helpers.ts';

let emulator: BedrockEmulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

const PROMPT = 'Tell me about budgets and guards.';
const FAMILIES: { name: string; model: string; body: (maxTokens: number) => Record<string, unknown> }[] = [
  {
    name: 'anthropic',
    model: 'anthropic.claude-3-5-haiku-20241022-v1:0',
    body: (max) => ({
      anthropic_version: 'bedrock-2023-05-31',
      max_tokens: max,
      messages: [{ role: 'user', content: PROMPT }],
    }),
  },
  {
    name: 'nova',
    model: 'amazon.nova-lite-v1:0',
    body: (max) => ({
      messages: [{ role: 'user', content: [{ text: PROMPT }] }],
      inferenceConfig: { maxTokens: max },
    }),
  },
  {
    name: 'llama',
    model: 'meta.llama3-1-8b-instruct-v1:0',
    body: (max) => ({ prompt: PROMPT, max_gen_len: max }),
  },
  {
    name: 'mistral',
    model: 'mistral.mistral-7b-instruct-v0:2',
    body: (max) => ({ prompt: PROMPT, max_tokens: max }),
  },
  {
    name: 'titan',
    model: 'amazon.titan-text-express-v1',
    body: (max) => ({ inputText: PROMPT, textGenerationConfig: { maxTokenCount: max } }),
  },
];

function cost(cycles: Cycles, model: string, r: RecordedRequest | undefined): number {
  return usageCost(
    {
      inputTokens: r?.inputTokens ?? 0,
      outputTokens: r?.outputTokens ?? 0,
      cacheReadInputTokens: r?.cacheReadInputTokens ?? 0,
      cacheWriteInputTokens: r?.cacheWriteInputTokens ?? 0,
    },
    cycles.catalog.resolve(model).price,
  );
}

/** A budget that fits the input estimate plus about `output` tokens of `model`. */
function budgetFor(model: string, output: number): number {
  const price = createCycles().catalog.resolve(model).price;
  const input = Math.max(price.inputPerMillion, price.cacheWritePerMillion ?? 0);
  return Math.ceil((40 * input + output * price.outputPerMillion) / 1e6);
}

describe.each(FAMILIES)('InvokeModel $name', ({ model, body }) => {
  it('commits the exact cost (string body)', async () => {
    const setup = await guardedSetup(1e12);
    emulator = setup.emulator;
    const output = await setup.client.send(
      new InvokeModelCommand({ modelId: model, body: JSON.stringify(body(300)) }),
    );
    expect(setup.emulator.requests[0]?.maxTokens).toBe(300);
    const state = await setup.state();
    expect(state).toMatchObject({
      reserved: 0,
      spent: cost(setup.cycles, model, setup.emulator.requests[0]),
    });
    expect(getCyclesResult(output)?.charged).toBe(state.spent);
  });

  it('cuts max tokens in the family field (bytes body)', async () => {
    const allocated = budgetFor(model, 400);
    const setup = await guardedSetup(allocated);
    emulator = setup.emulator;
    const output = await setup.client.send(
      new InvokeModelCommand({ modelId: model, body: new TextEncoder().encode(JSON.stringify(body(2000))) }),
    );
    const result = getCyclesResult(output);
    expect(result?.capped).toBe(true);
    expect(setup.emulator.requests[0]?.maxTokens).toBe(result?.grantedMaxOutputTokens);
    const state = await setup.state();
    expect(state.reserved).toBe(0);
    expect(state.spent).toBe(cost(setup.cycles, model, setup.emulator.requests[0]));
    expect(state.spent).toBeLessThanOrEqual(allocated);
  });

  it('streams: commits the exact cost on finish', async () => {
    const setup = await guardedSetup(1e12);
    emulator = setup.emulator;
    const output = await setup.client.send(
      new InvokeModelWithResponseStreamCommand({ modelId: model, body: JSON.stringify(body(300)) }),
    );
    for await (const _ of output.body ?? []) {
      // drain
    }
    const state = await setup.state();
    expect(state).toMatchObject({
      reserved: 0,
      spent: cost(setup.cycles, model, setup.emulator.requests[0]),
    });
    expect(getCyclesResult(output)?.charged).toBe(state.spent);
  });

  it('streams: a consumer break commits what was observed, a dropped connection the hold, once each', async () => {
    const setup = await guardedSetup(1e12, {}, undefined, { outputTokens: 300, latency: { perChunkMs: 2 } });
    emulator = setup.emulator;
    const first = await setup.client.send(
      new InvokeModelWithResponseStreamCommand({ modelId: model, body: JSON.stringify(body(300)) }),
    );
    for await (const _ of first.body ?? []) break;
    setup.emulator.faults.push({ kind: 'dropMidStream', afterChunks: 2 });
    const second = await setup.client.send(
      new InvokeModelWithResponseStreamCommand({ modelId: model, body: JSON.stringify(body(300)) }),
    );
    await expect(async () => {
      for await (const _ of second.body ?? []) {
        // drain
      }
    }).rejects.toThrow();
    await setup.emulator.waitForIdle();
    expect(setup.emulator.requests[0]?.aborted).toBe(true);
    const state = await setup.state();
    expect(state.reserved).toBe(0);
    const charged = (getCyclesResult(first)?.charged ?? 0) + (getCyclesResult(second)?.charged ?? 0);
    expect(state.spent).toBe(charged);
    // The break stopped Bedrock: the input plus at most one chunk, well below the 300-token hold.
    expect(getCyclesResult(first)?.charged).toBeGreaterThan(0);
    expect(getCyclesResult(first)?.charged).toBeLessThan(getCyclesResult(second)?.charged ?? 0);
  });

  it('streams: exception frame commits the hold once', async () => {
    const setup = await guardedSetup(1e12);
    emulator = setup.emulator;
    setup.emulator.faults.push({ kind: 'exceptionMidStream', afterChunks: 1 });
    const output = await setup.client.send(
      new InvokeModelWithResponseStreamCommand({ modelId: model, body: JSON.stringify(body(300)) }),
    );
    await expect(async () => {
      for await (const _ of output.body ?? []) {
        // drain
      }
    }).rejects.toThrow();
    const state = await setup.state();
    expect(state.reserved).toBe(0);
    expect(state.spent).toBe(getCyclesResult(output)?.charged);
    expect(state.spent).toBeGreaterThan(0);
  });
});

describe('InvokeModel Anthropic thinking', () => {
  it('keeps budget_tokens below the cut max_tokens', async () => {
    const model = 'anthropic.claude-3-7-sonnet-20250219-v1:0';
    const allocated = budgetFor(model, 3000);
    const setup = await guardedSetup(allocated);
    emulator = setup.emulator;
    await setup.client.send(
      new InvokeModelCommand({
        modelId: model,
        body: JSON.stringify({
          anthropic_version: 'bedrock-2023-05-31',
          max_tokens: 16000,
          thinking: { type: 'enabled', budget_tokens: 12000 },
          messages: [{ role: 'user', content: PROMPT }],
        }),
      }),
    );
    const request = setup.emulator.requests[0];
    const sent = (typeof request?.body === 'string' ? JSON.parse(request.body) : request?.body) as {
      max_tokens: number;
      thinking: { budget_tokens: number };
    };
    expect(sent.max_tokens).toBeLessThan(16000);
    expect(sent.thinking.budget_tokens).toBeLessThan(sent.max_tokens);
    expect(request?.status).toBe(200);
    expect((await setup.state()).spent).toBeLessThanOrEqual(allocated);
  });
});

describe('concurrency', () => {
  it('200 concurrent calls on a budget for 50 worst cases never overspend or leak holds', async () => {
    const model = 'anthropic.claude-3-5-haiku-20241022-v1:0';
    const worst = budgetFor(model, 300);
    const setup = await guardedSetup(0, {}, undefined, { outputTokens: 300 });
    emulator = setup.emulator;
    // Two nested scopes, each funded for 50 worst cases; the plugin's subject adds the workspace.
    const scoped = budget(worst * 50, 'USD_MICROCENTS', ['tenant:acme/workspace:ws1']);
    const client = sdkClient(setup.emulator.url);
    client.middlewareStack.use(cyclesBedrockPlugin({ cycles: scoped.cycles, subject: { workspace: 'ws1' } }));
    const messages = [{ role: 'user' as const, content: [{ text: PROMPT }] }];
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, () =>
        setup.client.send(
          new ConverseCommand({ modelId: model, messages, inferenceConfig: { maxTokens: 300 } }),
        ),
      ),
    );
    await setup.emulator.waitForIdle();
    const state = await setup.state();
    expect(state.reserved).toBe(0);
    expect(state.spent).toBeLessThanOrEqual(worst * 50);
    const sent = setup.emulator.requests.reduce((sum, r) => sum + cost(setup.cycles, model, r), 0);
    expect(state.spent).toBe(sent);
    expect(results.filter((r) => r.status === 'fulfilled').length).toBe(setup.emulator.requests.length);
  });
});

describe('budget cutoff mid-stream', () => {
  it('stops an Anthropic stream whose real input overran a low estimate, aborting the request', async () => {
    const model = 'anthropic.claude-3-5-haiku-20241022-v1:0';
    const setup = await guardedSetup(1e12, { inputTokens: () => 1 }, undefined, { outputTokens: 4000 });
    emulator = setup.emulator;
    setup.emulator.latency.perChunkMs = 2;
    const output = await setup.client.send(
      new InvokeModelWithResponseStreamCommand({
        modelId: model,
        body: JSON.stringify({
          anthropic_version: 'bedrock-2023-05-31',
          max_tokens: 200,
          messages: [{ role: 'user', content: 'word '.repeat(4000) }],
        }),
      }),
    );
    let chunks = 0;
    for await (const _ of output.body ?? []) chunks++;
    await setup.emulator.waitForIdle();
    const request = setup.emulator.requests[0];
    expect(request?.aborted).toBe(true);
    expect(chunks).toBeLessThan(5);
    const state = await setup.state();
    expect(state.reserved).toBe(0);
    // Usage unknown after a cutoff: the whole hold is charged, never $0.
    expect(state.spent).toBe(getCyclesResult(output)?.charged);
    expect(state.spent).toBeGreaterThan(0);
  });
});
