import { BudgetExceededError, ModelNotPricedError } from '@cycles-guard/core';
import { generateObject, generateText, type LanguageModelMiddleware } from 'ai';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { cyclesMetadata, emulatorCost, HAIKU, type Setup, setup } from './helpers.ts';

let current: Setup | undefined;
afterEach(async () => {
  await current?.emulator.close();
  current = undefined;
});

describe('generateText through @ai-sdk/amazon-bedrock and the emulator', () => {
  it('sends the requested maxOutputTokens when it fits and commits the emulator-reported cost', async () => {
    current = await setup(1e12);
    const result = await generateText({
      model: current.model,
      prompt: 'Tell me about budgets.',
      maxOutputTokens: 500,
    });
    const [request] = current.emulator.requests;
    expect(request?.maxTokens).toBe(500);
    const state = await current.state();
    expect(state.reserved).toBe(0);
    expect(state.spent).toBe(emulatorCost(current.cycles, HAIKU, request!));
    expect(result.providerMetadata?.cycles).toMatchObject({
      grantedMaxOutputTokens: 500,
      requestedMaxOutputTokens: 500,
      capped: false,
      charged: state.spent,
    });
  });

  it('sends the model maximum as the limit when the caller sets none (never an unbounded call)', async () => {
    current = await setup(1e12);
    await generateText({ model: current.model, prompt: 'Hi' });
    const maximum = current.cycles.catalog.resolve(HAIKU).price.maxOutputTokens;
    expect(current.emulator.requests[0]?.maxTokens).toBe(maximum);
  });
});

describe('budget limits', () => {
  it('cuts maxOutputTokens to what the budget holds and the emulator receives the cut value', async () => {
    const price = (await setup(1)).cycles.catalog.resolve(HAIKU).price;
    // Room for the input estimate plus about 300 output tokens.
    const allocated = Math.ceil(
      (200 * Math.max(price.inputPerMillion, price.cacheWritePerMillion ?? 0) +
        300 * price.outputPerMillion) /
        1e6,
    );
    current = await setup(allocated, { emulator: { outputTokens: 4000 } });
    const result = await generateText({
      model: current.model,
      prompt: 'Write a long essay.',
      maxOutputTokens: 4000,
    });
    const metadata = result.providerMetadata?.cycles as { grantedMaxOutputTokens: number; capped: boolean };
    expect(metadata.capped).toBe(true);
    expect(metadata.grantedMaxOutputTokens).toBeLessThan(4000);
    expect(metadata.grantedMaxOutputTokens).toBeGreaterThan(200);
    const [request] = current.emulator.requests;
    expect(request?.maxTokens).toBe(metadata.grantedMaxOutputTokens);
    // The emulator wrote all it was allowed to and the cost still fits.
    expect(request?.outputTokens).toBe(metadata.grantedMaxOutputTokens);
    const state = await current.state();
    expect(state.spent).toBe(emulatorCost(current.cycles, HAIKU, request!));
    expect(state.spent).toBeLessThanOrEqual(allocated);
    expect(state.reserved).toBe(0);
  });

  it('denies before any request leaves, with BudgetExceededError the AI SDK does not retry', async () => {
    current = await setup(1_000);
    const failure = await generateText({ model: current.model, prompt: 'Hi', maxRetries: 2 }).catch(
      (error) => error,
    );
    expect(BudgetExceededError.isInstance(failure)).toBe(true);
    expect(failure.constructor.name).toBe('BudgetExceededError'); // not wrapped in RetryError
    expect(current.emulator.requests).toHaveLength(0);
    expect(current.sequence().filter((type) => type === 'denial')).toHaveLength(1);
    expect((await current.state()).reserved).toBe(0);
  });

  it('prices a cross-region inference profile like its base model', async () => {
    current = await setup(1e12, { model: `us.${HAIKU}` });
    await generateText({ model: current.model, prompt: 'Hi', maxOutputTokens: 100 });
    const [request] = current.emulator.requests;
    expect(request?.modelId).toBe(`us.${HAIKU}`);
    expect((await current.state()).spent).toBe(emulatorCost(current.cycles, HAIKU, request!));
  });

  it('refuses an unknown Bedrock model before sending, rather than counting it as $0', async () => {
    current = await setup(1e12, { model: 'anthropic.claude-9-v1:0' });
    const failure = await generateText({ model: current.model, prompt: 'Hi' }).catch((error) => error);
    expect(ModelNotPricedError.isInstance(failure)).toBe(true);
    expect(current.emulator.requests).toHaveLength(0);
  });
});

describe('retries and failures', () => {
  it('reserves and releases per throttled attempt, then commits the attempt that answered', async () => {
    current = await setup(1e12);
    current.emulator.faults.push({ kind: 'throttle', times: 2 });
    await generateText({ model: current.model, prompt: 'Hi', maxOutputTokens: 100, maxRetries: 2 });
    expect(current.emulator.requests.map((request) => request.status)).toEqual([429, 429, 200]);
    expect(current.sequence()).toEqual(['decision', 'release', 'decision', 'release', 'decision', 'commit']);
    const state = await current.state();
    expect(state.spent).toBe(emulatorCost(current.cycles, HAIKU, current.emulator.requests[2]!));
    expect(state.reserved).toBe(0);
  });

  it('commits the whole hold when Bedrock answered with a server error (it may have billed)', async () => {
    current = await setup(1e12);
    current.emulator.faults.push({ kind: 'internal' });
    await expect(
      generateText({ model: current.model, prompt: 'Hi', maxOutputTokens: 100, maxRetries: 0 }),
    ).rejects.toThrow(/internal error/);
    const decision = current.events.find((event) => event.type === 'decision');
    const state = await current.state();
    expect(state.reserved).toBe(0);
    expect(state.spent).toBe(decision?.type === 'decision' ? decision.reserved : -1);
  });

  it('commits the whole hold when the connection drops after the request was sent (it may have billed)', async () => {
    current = await setup(1e12);
    current.emulator.faults.push({ kind: 'resetAfterRequest' });
    await expect(generateText({ model: current.model, prompt: 'Hi', maxRetries: 0 })).rejects.toThrow();
    const decision = current.events.find((event) => event.type === 'decision');
    const state = await current.state();
    expect(current.emulator.requests).toHaveLength(1);
    expect(state.reserved).toBe(0);
    expect(state.spent).toBe(decision?.type === 'decision' ? decision.reserved : -1);
  });

  it('releases when the request never reached Bedrock (connection refused)', async () => {
    const closed = await setup(1e12);
    await closed.emulator.close();
    await expect(generateText({ model: closed.model, prompt: 'Hi', maxRetries: 0 })).rejects.toThrow();
    expect(closed.sequence()).toEqual(['decision', 'release']);
    expect((await closed.state()).spent).toBe(0);
  });
});

describe('generateObject', () => {
  it('holds for the schema too, caps and commits the emulator cost of the JSON answer', async () => {
    // The emulator writes filler words; this inner middleware makes its answer the JSON object asked for.
    const jsonAnswer: LanguageModelMiddleware = {
      specificationVersion: 'v3',
      async wrapGenerate({ doGenerate }) {
        const result = await doGenerate();
        return { ...result, content: [{ type: 'text', text: '{"city":"Lisbon","days":3}' }] };
      },
    };
    current = await setup(1e12, { inner: [jsonAnswer] });
    const { object, providerMetadata } = await generateObject({
      model: current.model,
      schema: z.object({ city: z.string(), days: z.number() }),
      prompt: 'Plan a trip.',
      maxOutputTokens: 300,
    });
    expect(object).toEqual({ city: 'Lisbon', days: 3 });
    const [request] = current.emulator.requests;
    expect(request?.maxTokens).toBe(300);
    const state = await current.state();
    expect(state.spent).toBe(emulatorCost(current.cycles, HAIKU, request!));
    expect(cyclesMetadata(providerMetadata).charged).toBe(state.spent);
  });
});

describe('prompt cache', () => {
  it('commits cache writes and reads at their own prices, as the emulator reports them', async () => {
    current = await setup(1e12);
    // A cache point on a user message (ai@7 takes no system messages in `messages`).
    const messages = [
      {
        role: 'user' as const,
        content: 'You are a careful budget analyst. '.repeat(80),
        providerOptions: { bedrock: { cachePoint: { type: 'default' } } },
      },
      { role: 'assistant' as const, content: 'Ready.' },
      { role: 'user' as const, content: 'Summarise.' },
    ];
    await generateText({ model: current.model, messages, maxOutputTokens: 100 });
    await generateText({ model: current.model, messages, maxOutputTokens: 100 });
    const [write, read] = current.emulator.requests;
    expect(write?.cacheWriteInputTokens).toBeGreaterThan(0);
    expect(read?.cacheReadInputTokens).toBe(write?.cacheWriteInputTokens);
    const price = current.cycles.catalog.resolve(HAIKU).price;
    expect(price.cacheReadPerMillion).toBeLessThan(price.inputPerMillion);
    const state = await current.state();
    expect(state.spent).toBe(
      emulatorCost(current.cycles, HAIKU, write!) + emulatorCost(current.cycles, HAIKU, read!),
    );
  });
});
