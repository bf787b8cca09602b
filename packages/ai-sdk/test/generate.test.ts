import { BudgetExceededError, ModelNotPricedError } from '@cycles-guard/core';
import { generateObject, generateText } from 'ai';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { emulatorCost, HAIKU, type Setup, setup } from './helpers.ts';

let current: Setup | undefined;
afterEach(async () => {
  await current?.emulator.close();
  current = undefined;
});

describe('generateText through @ai-sdk/amazon-bedrock and the emulator', () => {
  it('sends the requested maxOutputTokens when it fits and commits the emulator-reported cost', async () => {
    current = await setup(1e12);
    const result = await generateText({ model: current.model, prompt: 'Tell me about budgets.', maxOutputTokens: 500 });
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
