import { ConverseStreamCommand, InvokeModelWithResponseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import type { BedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { runWithBudget } from '@cycles-guard/core';
import { estimateInputTokens, type TokenUsage, usageCost } from '@cycles-guard/core/llm';
import { afterEach, describe, expect, it } from 'vitest';
import { getCyclesResult } from '../src/index.ts';
import { guardedSetup } from './helpers.ts';

// A stream we stop (budget-context abort, client disconnect, consumer break) commits what was observed,
// not the whole hold: input (reported, else estimated) + output counted from the deltas received.

const HAIKU = 'anthropic.claude-3-5-haiku-20241022-v1:0';
const PROMPT = 'Tell me about budgets and guards.';
const messages = [{ role: 'user' as const, content: [{ text: PROMPT }] }];
/** Input estimate of `messages` (the guard's rule: ceil(utf8 bytes / 3) per text + 4 per message). */
const INPUT_ESTIMATE = estimateInputTokens({ messages: [{ role: 'user', content: [PROMPT] }] });
const decoder = new TextDecoder();

let emulator: BedrockEmulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

/** The guard's streamed-output rule: ceil(utf8 bytes / 3) per delta. */
const deltaTokens = (texts: string[]) =>
  texts.reduce((sum, text) => sum + Math.ceil(Buffer.byteLength(text) / 3), 0);
/** Emulator tokens are words: what really reached the consumer. */
const words = (texts: string[]) => texts.join('').split(' ').filter(Boolean).length;

async function streamingSetup() {
  // Slow chunks of 16 tokens, and far more output than the test reads.
  const setup = await guardedSetup(1e12, {}, undefined, {
    outputTokens: 4000,
    latency: { perChunkMs: 15 },
  });
  emulator = setup.emulator;
  const cost = (usage: TokenUsage) => usageCost(usage, setup.cycles.catalog.resolve(HAIKU).price);
  return { ...setup, cost };
}

describe('a stream stopped by us commits what was observed', () => {
  it('ConverseStream: budget-context abort after N chunks', async () => {
    const setup = await streamingSetup();
    const controller = new AbortController();
    const output = await runWithBudget({ cycles: setup.cycles, signal: controller.signal }, () =>
      setup.client.send(
        new ConverseStreamCommand({ modelId: HAIKU, messages, inferenceConfig: { maxTokens: 4000 } }),
      ),
    );
    const texts: string[] = [];
    await expect(async () => {
      for await (const event of output.stream ?? []) {
        const text = event.contentBlockDelta?.delta?.text;
        if (text !== undefined && texts.push(text) === 3) controller.abort(new Error('client gone'));
      }
    }).rejects.toThrow();
    await setup.emulator.waitForIdle();
    const request = setup.emulator.requests[0];
    expect(request?.aborted).toBe(true);

    const state = await setup.state();
    const observed = setup.cost({ inputTokens: INPUT_ESTIMATE, outputTokens: deltaTokens(texts) });
    expect(texts).toHaveLength(3);
    expect(state.spent).toBe(observed);
    expect(getCyclesResult(output)?.charged).toBe(observed);
    // Conservative: never below what really reached us, and the rest of the hold went back.
    expect(observed).toBeGreaterThanOrEqual(
      setup.cost({ inputTokens: request?.inputTokens ?? 0, outputTokens: words(texts) }),
    );
    expect(state.reserved).toBe(0);
    expect(observed).toBeLessThan(setup.cost({ inputTokens: INPUT_ESTIMATE, outputTokens: 4000 }));
  });

  it('ConverseStream: a consumer that breaks after N chunks', async () => {
    const setup = await streamingSetup();
    const output = await setup.client.send(
      new ConverseStreamCommand({ modelId: HAIKU, messages, inferenceConfig: { maxTokens: 4000 } }),
    );
    const texts: string[] = [];
    for await (const event of output.stream ?? []) {
      const text = event.contentBlockDelta?.delta?.text;
      if (text !== undefined && texts.push(text) === 2) break;
    }
    await setup.emulator.waitForIdle();
    expect(setup.emulator.requests[0]?.aborted).toBe(true);
    const state = await setup.state();
    expect(state.spent).toBe(setup.cost({ inputTokens: INPUT_ESTIMATE, outputTokens: deltaTokens(texts) }));
    expect(state.reserved).toBe(0);
  });

  it('InvokeModelWithResponseStream (Anthropic): abort after N chunks uses the reported input', async () => {
    const setup = await streamingSetup();
    const controller = new AbortController();
    const output = await runWithBudget({ cycles: setup.cycles, signal: controller.signal }, () =>
      setup.client.send(
        new InvokeModelWithResponseStreamCommand({
          modelId: HAIKU,
          body: JSON.stringify({
            anthropic_version: 'bedrock-2023-05-31',
            max_tokens: 4000,
            messages: [{ role: 'user', content: PROMPT }],
          }),
        }),
      ),
    );
    const texts: string[] = [];
    let reportedInput: number | undefined;
    await expect(async () => {
      for await (const event of output.body ?? []) {
        const chunk = JSON.parse(decoder.decode(event.chunk?.bytes)) as {
          message?: { usage?: { input_tokens?: number } };
          delta?: { text?: string };
        };
        reportedInput ??= chunk.message?.usage?.input_tokens;
        const text = chunk.delta?.text;
        if (text !== undefined && texts.push(text) === 4) controller.abort();
      }
    }).rejects.toThrow();
    await setup.emulator.waitForIdle();
    const request = setup.emulator.requests[0];
    expect(request?.aborted).toBe(true);
    expect(reportedInput).toBe(request?.inputTokens);

    const state = await setup.state();
    const observed = setup.cost({ inputTokens: reportedInput ?? 0, outputTokens: deltaTokens(texts) });
    expect(texts).toHaveLength(4);
    expect(state.spent).toBe(observed);
    expect(getCyclesResult(output)?.charged).toBe(observed);
    expect(deltaTokens(texts)).toBeGreaterThanOrEqual(words(texts));
    expect(state.reserved).toBe(0);
  });

  it('still commits the input when the abort comes before any output', async () => {
    const setup = await streamingSetup();
    setup.emulator.latency.firstByteMs = 0;
    const controller = new AbortController();
    const output = await runWithBudget({ cycles: setup.cycles, signal: controller.signal }, () =>
      setup.client.send(
        new ConverseStreamCommand({ modelId: HAIKU, messages, inferenceConfig: { maxTokens: 4000 } }),
      ),
    );
    controller.abort();
    await expect(async () => {
      for await (const _ of output.stream ?? []) {
        // nothing should arrive
      }
    }).rejects.toThrow();
    const state = await setup.state();
    // The request reached Bedrock: never $0.
    expect(state.spent).toBe(setup.cost({ inputTokens: INPUT_ESTIMATE, outputTokens: 0 }));
    expect(state.spent).toBeGreaterThan(0);
    expect(state.reserved).toBe(0);
  });
});
