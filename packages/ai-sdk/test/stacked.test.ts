import { BudgetExceededError } from '@cycles-guard/core';
import { generateText, streamText } from 'ai';
import { afterEach, describe, expect, it } from 'vitest';
import { cyclesModelMiddleware } from '../src/index.ts';
import { budget, emulatorCost, HAIKU, type Setup, setup } from './helpers.ts';

let current: Setup | undefined;
afterEach(async () => {
  await current?.emulator.close();
  current = undefined;
});

/** Microcents that hold about `input` tokens of input and `output` tokens of output of Haiku. */
function room(cycles: Setup['cycles'], input: number, output: number): number {
  const price = cycles.catalog.resolve(HAIKU).price;
  const inputRate = Math.max(price.inputPerMillion, price.cacheWritePerMillion ?? 0);
  return Math.ceil((input * inputRate + output * price.outputPerMillion) / 1e6);
}

// Two guards on one model (`middleware: [cyclesModelMiddleware(app), cyclesModelMiddleware(tenant)]`): each holds
// against its own budget; the inner one sees the outer one's cut, so the smaller grant is sent.
describe('two cyclesModelMiddleware guards on one model', () => {
  it('a denial by the inner guard releases the outer hold: nothing sent, nothing charged', async () => {
    const inner = budget(10);
    current = await setup(1e12, { inner: [cyclesModelMiddleware({ cycles: inner.cycles })] });
    await expect(
      generateText({ model: current.model, prompt: 'Hi', maxOutputTokens: 500, maxRetries: 0 }),
    ).rejects.toBeInstanceOf(BudgetExceededError);
    expect(current.emulator.requests).toHaveLength(0);
    expect(await current.state()).toMatchObject({ reserved: 0, spent: 0 });
    expect(await inner.state()).toMatchObject({ reserved: 0, spent: 0 });
  });

  it('the smaller grant is sent and both commit the same usage, streaming or not', async () => {
    const probe = budget(1);
    const inner = budget(room(probe.cycles, 60, 300) * 2);
    current = await setup(1e12, { inner: [cyclesModelMiddleware({ cycles: inner.cycles })] });
    await generateText({ model: current.model, prompt: 'Hi', maxOutputTokens: 4000 });
    const streamed = streamText({ model: current.model, prompt: 'Hi', maxOutputTokens: 4000 });
    await streamed.consumeStream();
    const requests = current.emulator.requests;
    expect(requests).toHaveLength(2);
    for (const request of requests) expect(request.maxTokens).toBeLessThan(4000);
    const cost = requests.reduce((sum, request) => sum + emulatorCost(current!.cycles, HAIKU, request), 0);
    expect(await current.state()).toMatchObject({ reserved: 0, spent: cost });
    expect(await inner.state()).toMatchObject({ reserved: 0, spent: cost });
    expect((await inner.state()).spent).toBeLessThanOrEqual((await inner.state()).allocated);
  });
});
