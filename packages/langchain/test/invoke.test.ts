import type { BedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { BudgetExceededError } from '@cycles-guard/core';
import { BaseCallbackHandler } from '@langchain/core/callbacks/base';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CyclesRunSettlement } from '../src/index.ts';
import { guardedModel, priced, room } from './helpers.ts';

let emulator: BedrockEmulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

describe('invoke', () => {
  it('commits the emulator-reported usage, priced, and sends the configured maxTokens when it fits', async () => {
    const setup = await guardedModel(1e12, { maxTokens: 500 });
    emulator = setup.emulator;
    const message = await setup.model.invoke('Tell me about budgets.');
    const [request] = setup.emulator.requests;
    expect(request?.maxTokens).toBe(500);
    const state = await setup.state();
    expect(state.reserved).toBe(0);
    expect(state.spent).toBe(priced(setup.cycles, request as never));
    expect(message.usage_metadata?.output_tokens).toBe(request?.outputTokens);
    expect(setup.handler.openRuns).toBe(0);
  });

  it('cuts maxTokens to what the budget holds: the request reaching Bedrock carries the cut value', async () => {
    const probe = await guardedModel(1);
    await probe.emulator.close();
    const allocated = room(probe.cycles, 60, 300);
    const setup = await guardedModel(allocated, { maxTokens: 4000 });
    emulator = setup.emulator;
    await setup.model.invoke('Tell me about budgets.');
    const sent = setup.emulator.requests[0]?.maxTokens ?? 0;
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThan(4000);
    const state = await setup.state();
    expect(state.spent).toBeLessThanOrEqual(allocated);
    expect(state.reserved).toBe(0);
  });

  it('vetoes a call the budget cannot pay for before any request leaves', async () => {
    const setup = await guardedModel(10, { maxTokens: 500 });
    emulator = setup.emulator;
    await expect(setup.model.invoke('Tell me about budgets.')).rejects.toBeInstanceOf(BudgetExceededError);
    expect(setup.emulator.requests).toHaveLength(0);
    const state = await setup.state();
    expect(state.reserved).toBe(0);
    expect(state.spent).toBe(0);
    expect(setup.handler.openRuns).toBe(0);
  });

  it('a denial is the call’s own error: LangChain logs no handler error, and other handlers see the run fail', async () => {
    const setup = await guardedModel(10, { maxTokens: 500 });
    emulator = setup.emulator;
    const events: string[] = [];
    const tracer = BaseCallbackHandler.fromMethods({
      handleChatModelStart: () => void events.push('start'),
      handleLLMError: (error: unknown) => void events.push(`error:${(error as Error).name}`),
    });
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const failure = await setup.model
        .invoke('Hi', { callbacks: [tracer] })
        .catch((error: unknown) => error);
      expect(BudgetExceededError.isInstance(failure)).toBe(true);
      const streamed = await (async () => {
        for await (const _chunk of await setup.model.stream('Hi')) {
          // drained only to surface the error
        }
      })().catch((error: unknown) => error);
      expect(BudgetExceededError.isInstance(streamed)).toBe(true);
      expect(logged).not.toHaveBeenCalled();
    } finally {
      logged.mockRestore();
    }
    expect(events).toEqual(['start', 'error:BudgetExceededError']);
    expect(setup.emulator.requests).toHaveLength(0);
    expect(setup.handler.openRuns).toBe(0);
    expect((await setup.state()).reserved).toBe(0);
  });

  it('cuts an extended-thinking budget with the output limit, so both fit the hold', async () => {
    const settled: CyclesRunSettlement[] = [];
    const probe = await guardedModel(1);
    await probe.emulator.close();
    const allocated = room(probe.cycles, 60, 3000);
    const setup = await guardedModel(
      allocated,
      {
        maxTokens: 8000,
        additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 6000 } },
      },
      { onSettled: (s) => settled.push(s) },
    );
    emulator = setup.emulator;
    await setup.model.invoke('Think about budgets.');
    const [request] = setup.emulator.requests;
    const body = request?.body as
      | { additionalModelRequestFields?: { thinking?: { budget_tokens?: number } } }
      | undefined;
    const thinking = body?.additionalModelRequestFields?.thinking;
    expect(request?.status).toBe(200);
    expect(request?.maxTokens).toBe(settled[0]?.grantedMaxOutputTokens);
    expect(request?.maxTokens).toBeLessThan(8000);
    expect(thinking?.budget_tokens).toBeLessThan(request?.maxTokens ?? 0);
    expect(thinking?.budget_tokens).toBeLessThan(6000);
    expect((await setup.state()).spent).toBeLessThanOrEqual(allocated);
    expect(settled[0]?.usage).toEqual({
      inputTokens: request?.inputTokens,
      outputTokens: request?.outputTokens,
    });
  });

  it('prices prompt-cache writes and reads from usage_metadata exactly (invoke and stream)', async () => {
    const setup = await guardedModel(1e12, { maxTokens: 200 });
    emulator = setup.emulator;
    const messages = [
      { role: 'system', content: 'You are a budget analyst. '.repeat(200) },
      { role: 'user', content: 'Summarise.' },
    ];
    await setup.model.invoke(messages, { cache_control: { type: 'ephemeral' } } as never);
    for await (const _chunk of await setup.model.stream(messages, {
      cache_control: { type: 'ephemeral' },
    } as never)) {
      // drain
    }
    const [write, read] = setup.emulator.requests;
    expect(write?.cacheWriteInputTokens).toBeGreaterThan(0);
    expect(read?.cacheReadInputTokens).toBeGreaterThan(0);
    const state = await setup.state();
    expect(state.reserved).toBe(0);
    expect(state.spent).toBe(priced(setup.cycles, write as never) + priced(setup.cycles, read as never));
  });
});
