import type { LanguageModelV3StreamPart, LanguageModelV3Usage } from '@ai-sdk/provider';
import { BudgetExceededError, createCycles, ModelNotPricedError } from '@cycles-guard/core';
import { usageCost } from '@cycles-guard/core/llm';
import { generateText, streamText, wrapLanguageModel } from 'ai';
import { MockLanguageModelV3, simulateReadableStream } from 'ai/test';
import { afterEach, describe, expect, it } from 'vitest';
import { cyclesModelMiddleware } from '../src/index.ts';
import { budget, cyclesMetadata, HAIKU, SCOPE, type Setup, SONNET_4, setup } from './helpers.ts';

const usage = (input: number, output: number, cacheRead = 0, cacheWrite = 0): LanguageModelV3Usage => ({
  inputTokens: { total: input + cacheRead + cacheWrite, noCache: input, cacheRead, cacheWrite },
  outputTokens: { total: output, text: output, reasoning: undefined },
});
const noUsage: LanguageModelV3Usage = {
  inputTokens: { total: undefined, noCache: undefined, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: undefined, text: undefined, reasoning: undefined },
};
const stop = { unified: 'stop', raw: 'end_turn' } as const;

function bedrockMock(options: ConstructorParameters<typeof MockLanguageModelV3>[0]) {
  return new MockLanguageModelV3({ provider: 'amazon-bedrock', modelId: HAIKU, ...options });
}

function streamOf(parts: LanguageModelV3StreamPart[]) {
  return {
    stream: simulateReadableStream<LanguageModelV3StreamPart>({
      initialDelayInMs: null,
      chunkDelayInMs: null,
      chunks: parts,
    }),
  };
}

describe('usage shapes (MockLanguageModelV3)', () => {
  it('prices cache reads and writes at their own rates', async () => {
    const b = budget(1e12);
    const mock = bedrockMock({
      doGenerate: {
        content: [{ type: 'text', text: 'hi' }],
        finishReason: stop,
        usage: usage(10, 5, 300, 40),
        warnings: [],
      },
    });
    const model = wrapLanguageModel({ model: mock, middleware: cyclesModelMiddleware({ cycles: b.cycles }) });
    await generateText({ model, prompt: 'x' });
    const price = b.cycles.catalog.resolve(HAIKU).price;
    expect(price.cacheReadPerMillion).toBeLessThan(price.inputPerMillion);
    const expected = usageCost(
      { inputTokens: 10, outputTokens: 5, cacheReadInputTokens: 300, cacheWriteInputTokens: 40 },
      price,
    );
    expect((await b.state()).spent).toBe(expected);
  });

  it('an answered generate call without usage is charged the whole hold, not $0', async () => {
    const b = budget(1e12);
    const mock = bedrockMock({
      doGenerate: {
        content: [{ type: 'text', text: 'hi' }],
        finishReason: stop,
        usage: noUsage,
        warnings: [],
      },
    });
    const model = wrapLanguageModel({ model: mock, middleware: cyclesModelMiddleware({ cycles: b.cycles }) });
    await generateText({ model, prompt: 'x', maxOutputTokens: 100 });
    const decision = b.events.find((event) => event.type === 'decision');
    expect((await b.state()).spent).toBe(decision?.type === 'decision' ? decision.reserved : -1);
  });

  it('a stream that ends with undefined usage commits what it saw (estimate), once', async () => {
    const b = budget(1e12);
    const mock = bedrockMock({
      doStream: streamOf([
        { type: 'stream-start', warnings: [] },
        { type: 'text-start', id: 't' },
        { type: 'text-delta', id: 't', delta: 'one two three four five six' },
        { type: 'text-end', id: 't' },
        { type: 'finish', finishReason: stop, usage: noUsage },
      ]),
    });
    const model = wrapLanguageModel({ model: mock, middleware: cyclesModelMiddleware({ cycles: b.cycles }) });
    await streamText({ model, prompt: 'x', maxOutputTokens: 1000 }).consumeStream();
    expect(b.sequence()).toEqual(['decision', 'commit']);
    const commit = b.events.find((event) => event.type === 'commit');
    const state = await b.state();
    expect(state.reserved).toBe(0);
    expect(state.spent).toBeGreaterThan(0);
    expect(commit?.type === 'commit' && commit.actual < commit.reserved).toBe(true);
  });
});

describe('denials and refusals (MockLanguageModelV3)', () => {
  it('a denial reaches the caller as BudgetExceededError and the model is never called', async () => {
    const b = budget(10);
    const mock = bedrockMock({});
    const model = wrapLanguageModel({ model: mock, middleware: cyclesModelMiddleware({ cycles: b.cycles }) });
    await expect(generateText({ model, prompt: 'x', maxRetries: 5 })).rejects.toSatisfy(
      BudgetExceededError.isInstance,
    );
    const streamErrors: unknown[] = [];
    const onError = ({ error }: { error: unknown }) => {
      streamErrors.push(error);
    };
    await streamText({ model, prompt: 'x', onError }).consumeStream();
    expect(streamErrors).toHaveLength(1);
    expect(BudgetExceededError.isInstance(streamErrors[0])).toBe(true);
    expect(mock.doGenerateCalls).toHaveLength(0);
    expect(mock.doStreamCalls).toHaveLength(0);
  });

  it('a non-Bedrock model must be priced in createCycles({ prices }), else ModelNotPricedError names the option', async () => {
    const b = budget(1e12);
    const mock = new MockLanguageModelV3({ provider: 'openai.chat', modelId: 'gpt-4o' });
    const model = wrapLanguageModel({ model: mock, middleware: cyclesModelMiddleware({ cycles: b.cycles }) });
    const failure = await generateText({ model, prompt: 'x' }).catch((error) => error);
    expect(ModelNotPricedError.isInstance(failure)).toBe(true);
    expect(failure.message).toMatch(/createCycles\(\{ prices: \{ 'gpt-4o'/);
    expect(failure.details).toMatchObject({ field: 'prices', provider: 'openai.chat' });
  });

  it('a priced non-Bedrock model is guarded like any other', async () => {
    const { createCycles, createMemoryLedger } = await import('@cycles-guard/core');
    const ledger = createMemoryLedger({
      sweepIntervalMs: 0,
      ledgers: [{ scope: SCOPE, unit: 'USD_MICROCENTS', allocated: 1e12 }],
    });
    const cycles = createCycles({
      authority: ledger,
      subject: { tenant: 'acme' },
      prices: {
        'gpt-4o': { inputPerMillion: 250_000_000, outputPerMillion: 1_000_000_000, maxOutputTokens: 16_384 },
      },
    });
    const mock = new MockLanguageModelV3({
      provider: 'openai.chat',
      modelId: 'gpt-4o',
      doGenerate: {
        content: [{ type: 'text', text: 'hi' }],
        finishReason: stop,
        usage: usage(100, 10),
        warnings: [],
      },
    });
    const model = wrapLanguageModel({ model: mock, middleware: cyclesModelMiddleware({ cycles }) });
    await generateText({ model, prompt: 'x', maxOutputTokens: 50 });
    expect(mock.doGenerateCalls[0]?.maxOutputTokens).toBe(50);
    expect((await ledger.getLedger(SCOPE, 'USD_MICROCENTS'))?.spent).toBe(25_000 + 10_000);
  });

  it('a call aborted while its hold is being taken releases it and never reaches the model', async () => {
    const b = budget(1e12);
    const controller = new AbortController();
    // The real ledger, except that the client leaves while the reservation is being answered.
    const reserve = async (...args: Parameters<typeof b.ledger.reserve>) => {
      const response = await b.ledger.reserve(...args);
      controller.abort(new Error('client left'));
      return response;
    };
    const authority = new Proxy(b.ledger, {
      get(target, key) {
        if (key === 'reserve') return reserve;
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const cycles = createCycles({ authority, subject: { tenant: 'acme' } });
    const mock = bedrockMock({});
    const model = wrapLanguageModel({ model: mock, middleware: cyclesModelMiddleware({ cycles }) });
    await expect(
      generateText({ model, prompt: 'x', abortSignal: controller.signal, maxRetries: 0 }),
    ).rejects.toThrow();
    expect(mock.doGenerateCalls).toHaveLength(0);
    const state = await b.state();
    expect(state.reserved).toBe(0);
    expect(state.spent).toBe(0);
  });

  it('an already aborted call reserves nothing', async () => {
    const b = budget(1e12);
    const mock = bedrockMock({});
    const model = wrapLanguageModel({ model: mock, middleware: cyclesModelMiddleware({ cycles: b.cycles }) });
    await expect(generateText({ model, prompt: 'x', abortSignal: AbortSignal.abort() })).rejects.toThrow();
    expect(b.events).toHaveLength(0);
  });
});

describe('per-call overrides', () => {
  it('providerOptions.cycles sets the subject, action and exact input tokens of one call', async () => {
    const b = budget(1e12);
    const mock = bedrockMock({
      doGenerate: {
        content: [{ type: 'text', text: 'hi' }],
        finishReason: stop,
        usage: usage(7, 3),
        warnings: [],
      },
    });
    const model = wrapLanguageModel({ model: mock, middleware: cyclesModelMiddleware({ cycles: b.cycles }) });
    await generateText({
      model,
      prompt: 'x',
      maxOutputTokens: 100,
      providerOptions: {
        cycles: { subject: { agent: 'planner' }, action: { kind: 'llm.plan', name: 'plan' }, inputTokens: 7 },
      },
    });
    const decision = b.events.find((event) => event.type === 'decision');
    expect(decision?.subject).toEqual({ tenant: 'acme', agent: 'planner' });
    expect(decision?.action).toEqual({ kind: 'llm.plan', name: 'plan' });
    const price = b.cycles.catalog.resolve(HAIKU).price;
    const inputRate = Math.max(price.inputPerMillion, price.cacheWritePerMillion ?? 0);
    expect(decision?.type === 'decision' && decision.estimate).toBe(
      Math.ceil((7 * inputRate) / 1e6) + Math.ceil((100 * price.outputPerMillion) / 1e6),
    );
  });
});

describe('Bedrock thinking budget (emulator)', () => {
  let current: Setup | undefined;
  afterEach(async () => {
    await current?.emulator.close();
    current = undefined;
  });
  const reasoning = (budgetTokens: number) => ({
    bedrock: { reasoningConfig: { type: 'enabled', budgetTokens } },
  });

  it('counts budgetTokens in the bound: what reaches Bedrock is maxOutputTokens + budgetTokens when it fits', async () => {
    current = await setup(1e12, { model: SONNET_4 });
    await generateText({
      model: current.model,
      prompt: 'Think.',
      maxOutputTokens: 1000,
      providerOptions: reasoning(2000),
    });
    const [request] = current.emulator.requests;
    expect(request?.maxTokens).toBe(3000);
    expect(request?.body).toMatchObject({
      additionalModelRequestFields: { thinking: { budget_tokens: 2000 } },
    });
  });

  it('cuts the total, thinking included, to the grant', async () => {
    const price = budget(1).cycles.catalog.resolve(SONNET_4).price;
    const allocated = Math.ceil(
      (100 * Math.max(price.inputPerMillion, price.cacheWritePerMillion ?? 0) +
        2500 * price.outputPerMillion) /
        1e6,
    );
    current = await setup(allocated, { model: SONNET_4, emulator: { outputTokens: 10_000 } });
    const result = await generateText({
      model: current.model,
      prompt: 'Think.',
      maxOutputTokens: 4000,
      providerOptions: reasoning(4000),
    });
    const granted = cyclesMetadata(result.providerMetadata).grantedMaxOutputTokens;
    const [request] = current.emulator.requests;
    expect(granted).toBeLessThan(8000);
    expect(request?.maxTokens).toBe(granted);
    const body = request?.body as { additionalModelRequestFields: { thinking: { budget_tokens: number } } };
    const thinking = body.additionalModelRequestFields.thinking.budget_tokens;
    expect(thinking).toBeGreaterThanOrEqual(1024);
    expect(thinking).toBeLessThan(4000);
    expect((await current.state()).spent).toBeLessThanOrEqual(allocated);
  });

  it('refuses before sending when the thinking budget would fall below Bedrock minimum', async () => {
    const price = budget(1).cycles.catalog.resolve(SONNET_4).price;
    const allocated = Math.ceil(
      (100 * Math.max(price.inputPerMillion, price.cacheWritePerMillion ?? 0) +
        900 * price.outputPerMillion) /
        1e6,
    );
    current = await setup(allocated, { model: SONNET_4 });
    const failure = await generateText({
      model: current.model,
      prompt: 'Think.',
      providerOptions: reasoning(4000),
    }).catch((error) => error);
    expect(BudgetExceededError.isInstance(failure)).toBe(true);
    expect(failure.message).toMatch(/reasoningConfig.budgetTokens/);
    expect(current.emulator.requests).toHaveLength(0);
    expect((await current.state()).reserved).toBe(0);
  });
});
