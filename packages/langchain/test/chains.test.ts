import type { BedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { startBedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { BudgetExceededError } from '@cycles-guard/core';
import { ChatBedrockConverse } from '@langchain/aws';
import { InMemoryCache } from '@langchain/core/caches';
import { StringOutputParser } from '@langchain/core/output_parsers';
import { ChatPromptTemplate } from '@langchain/core/prompts';
import { RunnableLambda } from '@langchain/core/runnables';
import { AsyncCaller } from '@langchain/core/utils/async_caller';
import { FakeLLM } from '@langchain/core/utils/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { CyclesCallbackHandler, type CyclesRunSettlement, guardChatModel } from '../src/index.ts';
import { budget, HAIKU, priced, sdkClient } from './helpers.ts';

let emulator: BedrockEmulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

/** A model capped by `handler` whose callbacks come from the call config (inherited by nested runs). */
async function setupInherited(allocated = 1e12) {
  emulator = await startBedrockEmulator({ port: 0 });
  const b = budget(allocated);
  const settled: CyclesRunSettlement[] = [];
  const handler = new CyclesCallbackHandler({ cycles: b.cycles, onSettled: (s) => settled.push(s) });
  const client = handler.capClient(sdkClient(emulator.url));
  const model = new ChatBedrockConverse({ model: HAIKU, region: 'us-east-1', client, maxTokens: 200 });
  return { ...b, emulator, handler, model, settled };
}

describe('nested chains', () => {
  it('a chain calling the model twice (one nested in a lambda) settles each model run once, with its parent', async () => {
    const setup = await setupInherited();
    const prompt = ChatPromptTemplate.fromMessages([
      ['system', 'You are terse.'],
      ['human', 'Summarise {topic}.'],
    ]);
    const summarise = prompt.pipe(setup.model).pipe(new StringOutputParser());
    const critique = RunnableLambda.from(async (summary: string, config) =>
      setup.model.invoke(`Critique: ${summary}`, config),
    );
    const chain = summarise.pipe(critique);
    await chain.invoke({ topic: 'budgets' }, { callbacks: [setup.handler] });
    expect(setup.emulator.requests).toHaveLength(2);
    expect(setup.settled).toHaveLength(2);
    expect(setup.settled.every((s) => s.parentRunId !== undefined)).toBe(true);
    expect(new Set(setup.settled.map((s) => s.runId)).size).toBe(2);
    const state = await setup.state();
    expect(state.reserved).toBe(0);
    expect(state.spent).toBe(setup.emulator.requests.reduce((sum, r) => sum + priced(setup.cycles, r), 0));
  });

  it('the same handler in the model and in the call reserves and settles once per run', async () => {
    const setup = await setupInherited();
    setup.model.callbacks = [setup.handler];
    await setup.model.invoke('Hi', { callbacks: [setup.handler] });
    expect(setup.settled).toHaveLength(1);
    const state = await setup.state();
    expect(state.spent).toBe(priced(setup.cycles, setup.emulator.requests[0] as never));
    expect(state.reserved).toBe(0);
  });
});

describe('retries', () => {
  it('SDK retries of a throttled request send the run’s grant and settle once', async () => {
    const setup = await setupInherited();
    const client = setup.handler.capClient(sdkClient(setup.emulator.url, 3));
    const model = new ChatBedrockConverse({ model: HAIKU, region: 'us-east-1', client, maxTokens: 200 });
    setup.emulator.faults.push({ kind: 'throttle' });
    await model.invoke('Hi', { callbacks: [setup.handler] });
    const [refused, answered] = setup.emulator.requests;
    expect(refused?.status).toBe(429);
    expect(answered?.status).toBe(200);
    expect(answered?.maxTokens).toBe(setup.settled[0]?.grantedMaxOutputTokens);
    expect(setup.settled).toHaveLength(1);
    const state = await setup.state();
    expect(state.spent).toBe(priced(setup.cycles, answered as never));
  });

  it('LangChain’s AsyncCaller (maxRetries) does not retry a budget denial', async () => {
    const setup = await setupInherited(10);
    const caller = new AsyncCaller({ maxRetries: 4 });
    let attempts = 0;
    const failure = await caller
      .call(async () => {
        attempts += 1;
        return setup.model.invoke('Hi', { callbacks: [setup.handler] });
      })
      .catch((error: unknown) => error);
    expect(BudgetExceededError.isInstance(failure)).toBe(true);
    expect(attempts).toBe(1);
    expect(setup.emulator.requests).toHaveLength(0);
  });
});

describe('other LangChain paths', () => {
  it('a cache hit never reached Bedrock: its hold is released', async () => {
    const setup = await setupInherited();
    const model = new ChatBedrockConverse({
      model: HAIKU,
      region: 'us-east-1',
      client: setup.model.client,
      maxTokens: 200,
      cache: new InMemoryCache(),
    });
    await model.invoke('Hi', { callbacks: [setup.handler] });
    await model.invoke('Hi', { callbacks: [setup.handler] });
    expect(setup.emulator.requests).toHaveLength(1);
    expect(setup.settled.map((s) => s.settlement.status)).toEqual(['committed', 'released']);
    const state = await setup.state();
    expect(state.spent).toBe(priced(setup.cycles, setup.emulator.requests[0] as never));
    expect(state.reserved).toBe(0);
  });

  it('a cache hit of a guarded model is answered even when the budget is spent: it costs nothing', async () => {
    emulator = await startBedrockEmulator({ port: 0 });
    const b = budget(1e12);
    const handler = new CyclesCallbackHandler({ cycles: b.cycles });
    const model = guardChatModel(
      new ChatBedrockConverse({
        model: HAIKU,
        region: 'us-east-1',
        client: sdkClient(emulator.url),
        maxTokens: 200,
        cache: new InMemoryCache(),
      }),
      handler,
    );
    const first = await model.invoke('Hi');
    const rest = await b.cycles.reserve({ estimate: (await b.state()).remaining });
    await expect(model.invoke('Something else')).rejects.toBeInstanceOf(BudgetExceededError);
    const cached = await model.invoke('Hi');
    expect(cached.content).toEqual(first.content);
    expect(emulator.requests).toHaveLength(1);
    expect(handler.openRuns).toBe(0);
    await rest.release();
    expect((await b.state()).reserved).toBe(0);
  });

  it('a text-completion LLM (handleLLMStart) is held and, with no usage reported, charged its hold', async () => {
    const { cycles, state } = budget(1e12);
    const settled: CyclesRunSettlement[] = [];
    const handler = new CyclesCallbackHandler({ cycles, model: HAIKU, onSettled: (s) => settled.push(s) });
    const llm = new FakeLLM({});
    await llm.invoke('Tell me about budgets.', { callbacks: [handler] });
    expect(settled).toHaveLength(1);
    expect((await state()).spent).toBe(settled[0]?.reserved);
    expect((await state()).reserved).toBe(0);
  });
});
