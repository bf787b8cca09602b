import type { BedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { BudgetExceededError, createCycles, withRunBudget } from '@cycles-guard/core';
import { tool } from '@langchain/core/tools';
import { createReactAgent } from '@langchain/langgraph/prebuilt';
import { createAgent, modelRetryMiddleware } from 'langchain';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CyclesCallbackHandler, type CyclesRunSettlement, findCyclesError } from '../src/index.ts';
import { guardedModel, priced, room } from './helpers.ts';

let emulator: BedrockEmulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

const lookup = tool(async ({ query }: { query: string }) => `Nothing new about ${query}.`, {
  name: 'lookup',
  description: 'Looks something up.',
  schema: z.object({ query: z.string() }),
});

describe('createAgent with tools', () => {
  it('reserves once per turn, tags each by turn, and settles every turn when it finishes', async () => {
    const settled: CyclesRunSettlement[] = [];
    const setup = await guardedModel(
      1e12,
      { maxTokens: 300 },
      { onSettled: (s) => settled.push(s) },
      { toolCalls: { turns: 3 } },
    );
    emulator = setup.emulator;
    const agent = createAgent({ model: setup.model, tools: [lookup] });
    const result = await agent.invoke({ messages: [{ role: 'user', content: 'Research budgets.' }] });
    expect(result.messages.filter((message) => message.type === 'tool')).toHaveLength(3);
    expect(setup.emulator.requests).toHaveLength(4);
    expect(settled).toHaveLength(4);
    const turns = settled.map((s) => s.turn);
    expect(new Set(turns).size).toBe(4);
    expect(turns.every((turn) => typeof turn === 'number')).toBe(true);
    const state = await setup.state();
    expect(state.reserved).toBe(0);
    expect(state.spent).toBe(setup.emulator.requests.reduce((sum, r) => sum + priced(setup.cycles, r), 0));
    expect(setup.handler.openRuns).toBe(0);
  });

  it('stops a runaway agent between turns with a BudgetExceededError the app can catch, no turn unsettled', async () => {
    const settled: CyclesRunSettlement[] = [];
    const probe = await guardedModel(1);
    await probe.emulator.close();
    const allocated = room(probe.cycles, 200, 3000); // a handful of 300-token turns
    const setup = await guardedModel(
      allocated,
      { maxTokens: 300 },
      { onSettled: (s) => settled.push(s) },
      { toolCalls: true },
    );
    emulator = setup.emulator;
    const agent = createAgent({ model: setup.model, tools: [lookup] });
    const failure = await agent
      .invoke({ messages: [{ role: 'user', content: 'Research budgets forever.' }] }, { recursionLimit: 500 })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(BudgetExceededError.isInstance(failure)).toBe(true);
    const requests = setup.emulator.requests;
    expect(requests.length).toBeGreaterThan(2);
    expect(settled).toHaveLength(requests.length);
    expect(settled.every((s) => s.settlement.status === 'committed')).toBe(true);
    const state = await setup.state();
    expect(state.reserved).toBe(0);
    expect(state.spent).toBe(requests.reduce((sum, r) => sum + priced(setup.cycles, r), 0));
    expect(state.spent).toBeLessThanOrEqual(allocated);
    expect(setup.handler.openRuns).toBe(0);
  });
});

describe('one agent run under withRunBudget', () => {
  it("the run's cap stops the agent between turns; the tenant keeps the spend, the run ledger goes", async () => {
    const setup = await guardedModel(1e12, { maxTokens: 300 }, {}, { toolCalls: true });
    emulator = setup.emulator;
    const cap = room(setup.cycles, 200, 2000); // a few 300-token turns
    const agent = createAgent({ model: setup.model, tools: [lookup] });
    let scope = '';
    const failure = await withRunBudget({ cycles: setup.cycles, limit: cap }, (run) => {
      scope = run.scope;
      return agent.invoke(
        { messages: [{ role: 'user', content: 'Research budgets forever.' }] },
        { recursionLimit: 500 },
      );
    }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(BudgetExceededError.isInstance(failure)).toBe(true);
    expect(findCyclesError(failure)?.message).toContain(scope);
    const requests = setup.emulator.requests;
    expect(requests.length).toBeGreaterThan(1);
    const tenant = await setup.state();
    expect(tenant.spent).toBe(requests.reduce((sum, r) => sum + priced(setup.cycles, r), 0));
    expect(tenant.spent).toBeLessThanOrEqual(cap);
    expect(tenant.reserved).toBe(0);
    expect(setup.handler.openRuns).toBe(0);
    expect(await setup.ledger.getLedger(scope, 'USD_MICROCENTS')).toBeUndefined();
  });
});

describe('parallel agents on one budget', () => {
  it('five runaway agents: each stopped by a typed error, every turn settled once, spend within the budget', async () => {
    const settled: CyclesRunSettlement[] = [];
    const probe = await guardedModel(1);
    await probe.emulator.close();
    const allocated = room(probe.cycles, 2000, 12_000);
    const setup = await guardedModel(
      allocated,
      { maxTokens: 400 },
      { onSettled: (s) => settled.push(s) },
      { toolCalls: true },
    );
    emulator = setup.emulator;
    const agent = createAgent({ model: setup.model, tools: [lookup] });
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, (_, index) =>
        agent
          .invoke(
            { messages: [{ role: 'user', content: `Task ${index}: research budgets.` }] },
            { recursionLimit: 500 },
          )
          .then(
            () => 'finished',
            (error: unknown) => (BudgetExceededError.isInstance(error) ? 'stopped' : String(error)),
          ),
      ),
    );
    expect(outcomes).toEqual(Array(5).fill('stopped'));
    expect(settled).toHaveLength(setup.emulator.requests.length);
    expect(new Set(settled.map((s) => s.runId)).size).toBe(settled.length);
    const state = await setup.state();
    expect(state.reserved).toBe(0);
    expect(state.spent).toBe(setup.emulator.requests.reduce((sum, r) => sum + priced(setup.cycles, r), 0));
    expect(state.spent).toBeLessThanOrEqual(allocated);
    expect(setup.handler.openRuns).toBe(0);
  });
});

describe('LangGraph', () => {
  it('createReactAgent (prebuilt) reserves and settles every turn', async () => {
    const settled: CyclesRunSettlement[] = [];
    const setup = await guardedModel(
      1e12,
      { maxTokens: 300 },
      { onSettled: (s) => settled.push(s) },
      { toolCalls: { turns: 2 } },
    );
    emulator = setup.emulator;
    const agent = createReactAgent({ llm: setup.model, tools: [lookup] });
    await agent.invoke({ messages: [{ role: 'user', content: 'Research budgets.' }] });
    expect(setup.emulator.requests).toHaveLength(3);
    expect(settled).toHaveLength(3);
    expect(new Set(settled.map((s) => s.turn)).size).toBe(3);
    const state = await setup.state();
    expect(state.reserved).toBe(0);
    expect(state.spent).toBe(setup.emulator.requests.reduce((sum, r) => sum + priced(setup.cycles, r), 0));
  });

  it('agent.stream in messages mode streams the model (ConverseStream) and commits its usage once', async () => {
    const settled: CyclesRunSettlement[] = [];
    const setup = await guardedModel(1e12, { maxTokens: 300 }, { onSettled: (s) => settled.push(s) });
    emulator = setup.emulator;
    const agent = createAgent({ model: setup.model, tools: [lookup] });
    let chunks = 0;
    for await (const _event of await agent.stream(
      { messages: [{ role: 'user', content: 'Research budgets.' }] },
      { streamMode: 'messages' },
    )) {
      chunks += 1;
    }
    expect(chunks).toBeGreaterThan(1);
    const [request] = setup.emulator.requests;
    expect(request?.stream).toBe(true);
    expect(settled).toHaveLength(1);
    const state = await setup.state();
    expect(state.spent).toBe(priced(setup.cycles, request as never));
    expect(state.reserved).toBe(0);
  });
});

describe('modelRetryMiddleware', () => {
  it('does not retry a budget denial (marked not retryable); with onFailure "error" the app gets the typed error', async () => {
    const denials: string[] = [];
    const setup = await guardedModel(10, { maxTokens: 300 });
    emulator = setup.emulator;
    const cycles = createCycles({
      authority: setup.ledger,
      subject: { tenant: 'acme' },
      onEvent: (event) => {
        if (event.type === 'denial') denials.push(event.code);
      },
    });
    const handler = new CyclesCallbackHandler({ cycles });
    setup.model.callbacks = [handler];
    setup.model.client = handler.capClient(setup.model.client);
    const agent = createAgent({
      model: setup.model,
      tools: [lookup],
      middleware: [modelRetryMiddleware({ maxRetries: 3, initialDelayMs: 1, onFailure: 'error' })],
    });
    const failure = await agent
      .invoke({ messages: [{ role: 'user', content: 'Research budgets.' }] })
      .catch((error: unknown) => error);
    // Agent middleware wraps errors (MiddlewareError, original as `cause`): findCyclesError unwraps.
    expect(BudgetExceededError.isInstance(failure)).toBe(false);
    expect(findCyclesError(failure)?.code).toBe('BUDGET_EXCEEDED');
    expect(denials).toEqual(['BUDGET_EXCEEDED']);
    expect(setup.emulator.requests).toHaveLength(0);
  });
});
