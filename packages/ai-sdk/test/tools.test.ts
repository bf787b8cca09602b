import { BudgetExceededError, InvalidRequestError } from '@cycles-guard/core';
import { generateText, stepCountIs, streamText, tool } from 'ai';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { withRunBudget } from '../src/index.ts';
import { emulatorCost, emulatorSpend, HAIKU, SCOPE, type Setup, setup } from './helpers.ts';

let current: Setup | undefined;
afterEach(async () => {
  await current?.emulator.close();
  current = undefined;
});

const tools = {
  lookup: tool({
    description: 'Looks a city up.',
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => ({ city, population: 545_000 }),
  }),
};
/** The emulator calls `lookup` on the first `turns` steps, then answers in text. */
const lookupCalls = (turns: number) => ({
  tool: 'lookup',
  turns,
  input: (turn: number) => ({ city: `city-${turn}` }),
});

describe('multi-step tool loops', () => {
  it('generateText: every step reserves, is capped and commits its own emulator cost', async () => {
    current = await setup(1e12, { emulator: { outputTokens: 40, toolCalls: lookupCalls(2) } });
    const result = await generateText({
      model: current.model,
      tools,
      prompt: 'Compare two cities.',
      maxOutputTokens: 256,
      stopWhen: stepCountIs(5),
    });
    expect(result.steps.map((step) => step.finishReason)).toEqual(['tool-calls', 'tool-calls', 'stop']);
    expect(current.emulator.requests).toHaveLength(3);
    expect(current.emulator.requests.every((request) => request.maxTokens === 256)).toBe(true);
    expect(current.sequence()).toEqual(['decision', 'commit', 'decision', 'commit', 'decision', 'commit']);
    // Later steps carry the tool results, so their input (and cost) grows.
    const costs = current.emulator.requests.map((request) => emulatorCost(current!.cycles, HAIKU, request));
    expect(costs[2]).toBeGreaterThan(costs[0]!);
    const state = await current.state();
    expect(state.spent).toBe(costs.reduce((sum, cost) => sum + cost, 0));
    expect(state.reserved).toBe(0);
  });

  it('streamText: every step of the loop settles once', async () => {
    current = await setup(1e12, { emulator: { outputTokens: 40, toolCalls: lookupCalls(3) } });
    const result = streamText({
      model: current.model,
      tools,
      prompt: 'Compare three cities.',
      maxOutputTokens: 256,
      stopWhen: stepCountIs(10),
    });
    await result.consumeStream();
    expect(await result.steps).toHaveLength(4);
    expect(current.emulator.requests).toHaveLength(4);
    const state = await current.state();
    expect(state.spent).toBe(emulatorSpend(current.cycles, HAIKU, current.emulator));
    expect(state.reserved).toBe(0);
    expect(current.sequence().filter((type) => type === 'commit')).toHaveLength(4);
  });
});

describe('withRunBudget', () => {
  it('stops a runaway tool loop when the run cap is spent, between steps, with BudgetExceededError', async () => {
    current = await setup(1e12, {
      emulator: { outputTokens: 60, toolCalls: lookupCalls(Number.POSITIVE_INFINITY) },
    });
    const model = current.model;
    const cap = 200_000; // $0.002: a handful of Haiku steps
    const steps: number[] = [];
    const failure = await withRunBudget({ cycles: current.cycles, limit: cap, workflow: 'run-1' }, (run) => {
      expect(run.scope).toBe(`${SCOPE}/workflow:run-1`);
      return generateText({
        model,
        tools,
        prompt: 'Keep looking cities up.',
        maxOutputTokens: 512,
        stopWhen: stepCountIs(1_000),
        onStepFinish: () => {
          steps.push(steps.length);
        },
      });
    }).catch((error) => error);
    expect(BudgetExceededError.isInstance(failure)).toBe(true);
    expect(steps.length).toBeGreaterThan(2);
    // The run paid what the emulator billed, within its cap; the tenant paid only this run.
    const tenant = await current.state();
    expect(tenant.spent).toBeLessThanOrEqual(cap);
    expect(tenant.spent).toBe(emulatorSpend(current.cycles, HAIKU, current.emulator));
    expect(tenant.reserved).toBe(0);
    // The run's last allowed steps were capped to what was left, and its ledger is gone with it.
    expect(current.events.some((event) => event.type === 'capped')).toBe(true);
    expect(await current.ledger.getLedger(`${SCOPE}/workflow:run-1`, 'USD_MICROCENTS')).toBeUndefined();
  });

  it('removes the ledger of a run with a generated id when it ends; one under a chosen id stays', async () => {
    current = await setup(1e12, { emulator: { outputTokens: 40, toolCalls: lookupCalls(1) } });
    const { cycles, ledger, model } = current;
    await ledger.addTemplate({ pattern: 'tenant:*/workflow:*', unit: 'USD_MICROCENTS', allocated: 1e9 });
    const loop = () =>
      generateText({
        model,
        tools,
        prompt: 'Look a city up.',
        maxOutputTokens: 256,
        stopWhen: stepCountIs(5),
      });
    const runLedgers = async () =>
      (await ledger.listLedgers()).filter((state) => state.scope.startsWith(`${SCOPE}/workflow:`));

    let generated = '';
    await withRunBudget({ cycles }, async (run) => {
      generated = run.scope;
      await loop();
      // While the run is on, its template ledger carries its spend.
      expect((await current!.state(run.scope)).spent).toBeGreaterThan(0);
    });
    expect(generated).toMatch(/^tenant:acme\/workflow:[0-9a-f-]{36}$/);
    expect(await runLedgers()).toEqual([]);
    const spentByFirst = (await current.state()).spent;
    expect(spentByFirst).toBe(emulatorSpend(cycles, HAIKU, current.emulator));

    await withRunBudget({ cycles, workflow: 'nightly' }, loop);
    expect((await runLedgers()).map((state) => state.scope)).toEqual([`${SCOPE}/workflow:nightly`]);
    expect((await current.state(`${SCOPE}/workflow:nightly`)).spent).toBe(
      (await current.state()).spent - spentByFirst,
    );
  });

  it('a stream returned from the run and read later: run.until keeps every step under the run cap', async () => {
    current = await setup(1e12, {
      emulator: { outputTokens: 60, toolCalls: lookupCalls(Number.POSITIVE_INFINITY) },
    });
    const { cycles, model } = current;
    const cap = 200_000;
    let runScope = '';
    const result = await withRunBudget({ cycles, limit: cap }, async (run) => {
      runScope = run.scope;
      const streamed = streamText({
        model,
        tools,
        prompt: 'Keep looking cities up.',
        maxOutputTokens: 512,
        stopWhen: stepCountIs(1_000),
        onError: () => {},
      });
      run.until(streamed.consumeStream());
      return streamed; // as a route handler returns `toUIMessageStreamResponse()`
    });
    let steps = 0;
    const errors: unknown[] = [];
    for await (const part of result.fullStream) {
      if (part.type === 'finish-step') steps++;
      if (part.type === 'error') errors.push(part.error);
    }
    // Steps ran after the callback returned, all charged to the run, until its cap stopped them.
    expect(steps).toBeGreaterThan(2);
    expect(errors).toHaveLength(1);
    expect(BudgetExceededError.isInstance(errors[0])).toBe(true);
    expect((errors[0] as BudgetExceededError).details).toMatchObject({ scope: runScope });
    const tenant = await current.state();
    expect(tenant.spent).toBeLessThanOrEqual(cap);
    expect(tenant.spent).toBe(emulatorSpend(cycles, HAIKU, current.emulator));
    await vi.waitFor(async () =>
      expect((await current!.ledger.listLedgers()).map((state) => state.scope)).toEqual([SCOPE]),
    );
  });

  it('a step that starts after its run ended is refused, never left uncapped', async () => {
    current = await setup(1e12, { emulator: { outputTokens: 40, toolCalls: lookupCalls(3) } });
    const { cycles, model } = current;
    const result = await withRunBudget({ cycles, limit: 1_000_000 }, async () =>
      streamText({
        model,
        tools,
        prompt: 'Look cities up.',
        maxOutputTokens: 256,
        stopWhen: stepCountIs(10),
        onError: () => {},
      }),
    );
    const errors: unknown[] = [];
    for await (const part of result.fullStream) if (part.type === 'error') errors.push(part.error);
    expect(errors).toHaveLength(1);
    expect(InvalidRequestError.isInstance(errors[0])).toBe(true);
    expect((errors[0] as InvalidRequestError).details).toMatchObject({ field: 'until' });
    // Whatever ran was charged to the tenant; nothing is held.
    const tenant = await current.state();
    expect(tenant.reserved).toBe(0);
    expect(tenant.spent).toBe(emulatorSpend(cycles, HAIKU, current.emulator));
  });

  it("a limit is this run's cap: the same workflow id can run again with a fresh one", async () => {
    current = await setup(1e12, { emulator: { outputTokens: 40 } });
    const { cycles, model } = current;
    for (let round = 0; round < 2; round++) {
      await withRunBudget({ cycles, limit: 1_000_000, workflow: 'report' }, async (run) => {
        await generateText({ model, prompt: 'Write the report.', maxOutputTokens: 256 });
        expect((await current!.state(run.scope)).allocated).toBe(1_000_000);
      });
    }
    expect(await current.ledger.getLedger(`${SCOPE}/workflow:report`, 'USD_MICROCENTS')).toBeUndefined();
    expect((await current.state()).spent).toBe(emulatorSpend(cycles, HAIKU, current.emulator));
  });

  it('a failed run is cleaned up too, and the failure is what the caller gets', async () => {
    current = await setup(1e12);
    const { cycles, ledger } = current;
    const failure = new Error('the tool broke');
    await expect(
      withRunBudget({ cycles, limit: 1_000_000 }, async () => {
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect((await ledger.listLedgers()).map((state) => state.scope)).toEqual([SCOPE]);
  });

  it('refuses a limit it cannot create a ledger for, naming the option and the fix', async () => {
    current = await setup(1e12);
    const { cycles } = current;
    const remote = { ...cycles, authority: { ...cycles.authority, createLedger: undefined } } as never;
    await expect(withRunBudget({ cycles: remote, limit: 10 }, async () => 1)).rejects.toThrow(
      /limit needs an authority that can create ledgers.*template/,
    );
  });
});
