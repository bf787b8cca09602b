import { createBedrockAnthropic } from '@ai-sdk/amazon-bedrock/anthropic';
import { startBedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { generateText, streamText, wrapLanguageModel } from 'ai';
import { describe, expect, it } from 'vitest';
import { cyclesModelMiddleware } from '../src/index.ts';
import { budget, cyclesMetadata, emulatorSpend, SONNET_4 } from './helpers.ts';

/** `@ai-sdk/amazon-bedrock/anthropic`: the Anthropic Messages API over InvokeModel, on the emulator. */
async function bedrockAnthropic(allocated: number) {
  const emulator = await startBedrockEmulator({ port: 0, outputTokens: 10_000 });
  const b = budget(allocated);
  const provider = createBedrockAnthropic({
    region: 'us-east-1',
    baseURL: emulator.url,
    accessKeyId: 'AKIDTEST',
    secretAccessKey: 'test',
  });
  const model = wrapLanguageModel({
    model: provider(SONNET_4),
    middleware: cyclesModelMiddleware({ cycles: b.cycles }),
  });
  return { emulator, model, ...b };
}

const thinking = (budgetTokens: number) => ({ anthropic: { thinking: { type: 'enabled', budgetTokens } } });

describe('@ai-sdk/amazon-bedrock/anthropic (InvokeModel)', () => {
  it('caps max_tokens on InvokeModel and commits the emulator cost (generate and stream)', async () => {
    const setup = await bedrockAnthropic(1e12);
    try {
      await generateText({ model: setup.model, prompt: 'Hi', maxOutputTokens: 300 });
      await streamText({ model: setup.model, prompt: 'Hi', maxOutputTokens: 200 }).consumeStream();
      expect(setup.emulator.requests.map((request) => [request.operation, request.maxTokens])).toEqual([
        ['InvokeModel', 300],
        ['InvokeModelWithResponseStream', 200],
      ]);
      const state = await setup.state();
      expect(state.spent).toBe(emulatorSpend(setup.cycles, SONNET_4, setup.emulator));
      expect(state.reserved).toBe(0);
    } finally {
      await setup.emulator.close();
    }
  });

  it('counts providerOptions.anthropic.thinking in the bound and cuts both to the grant', async () => {
    const price = budget(1).cycles.catalog.resolve(SONNET_4).price;
    const allocated = Math.ceil(
      (100 * Math.max(price.inputPerMillion, price.cacheWritePerMillion ?? 0) +
        2500 * price.outputPerMillion) /
        1e6,
    );
    const setup = await bedrockAnthropic(allocated);
    try {
      const result = await generateText({
        model: setup.model,
        prompt: 'Think.',
        maxOutputTokens: 4000,
        providerOptions: thinking(4000),
      });
      const granted = cyclesMetadata(result.providerMetadata).grantedMaxOutputTokens;
      const [request] = setup.emulator.requests;
      expect(granted).toBeLessThan(8000);
      expect(request?.maxTokens).toBe(granted);
      const body = request?.body as { thinking: { budget_tokens: number } };
      expect(body.thinking.budget_tokens).toBeGreaterThanOrEqual(1024);
      expect(body.thinking.budget_tokens).toBeLessThan(granted);
      expect((await setup.state()).spent).toBeLessThanOrEqual(allocated);
    } finally {
      await setup.emulator.close();
    }
  });
});
