import { createRequire } from 'node:module';
import { InvalidRequestError } from '@cycles-guard/core';
import { generateText, type LanguageModelMiddleware, wrapLanguageModel } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { outputLimits } from '../src/call-request.ts';
import { cyclesMiddleware, cyclesModelMiddleware } from '../src/index.ts';
import { budget, cyclesMetadata, SONNET_4 } from './helpers.ts';

// The Node 20 suite runs this with ai@6, the Node 24 leg (scripts/matrix/node24.sh) with ai@7.
const installed: string = createRequire(import.meta.url)('ai/package.json').version;
const major = Number(installed.split('.')[0]);

const usage = {
  inputTokens: { total: 3, noCache: 3, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 2, text: 2, reasoning: undefined },
};

function bedrockMock(modelId: string) {
  return new MockLanguageModelV3({
    provider: 'amazon-bedrock',
    modelId,
    doGenerate: { content: [], finishReason: { unified: 'stop', raw: 'end_turn' }, usage, warnings: [] },
  });
}

describe(`the installed ai (${installed})`, () => {
  it('is a major the peer range names, and takes the middleware as its own type', () => {
    expect([6, 7]).toContain(major);
    expectTypeOf(cyclesModelMiddleware()).toEqualTypeOf<LanguageModelMiddleware>();
    expect(cyclesMiddleware).toBe(cyclesModelMiddleware); // the deprecated name, kept for existing apps
  });

  it("wraps a model into its major's spec version and guards the call", async () => {
    const b = budget(1e12);
    const mock = bedrockMock('anthropic.claude-3-5-haiku-20241022-v1:0');
    const model = wrapLanguageModel({ model: mock, middleware: cyclesModelMiddleware({ cycles: b.cycles }) });
    expect(model.specificationVersion).toBe(major === 6 ? 'v3' : 'v4');
    const result = await generateText({ model, prompt: 'x', maxOutputTokens: 100 });
    expect(mock.doGenerateCalls[0]?.maxOutputTokens).toBe(100);
    expect(cyclesMetadata(result.providerMetadata).charged).toBe((await b.state()).spent);
    expect((await b.state()).spent).toBeGreaterThan(0);
  });

  it('counts a thinking budget under providerOptions.amazonBedrock (bedrock@5) and cuts it there', async () => {
    const b = budget(1e12);
    const mock = bedrockMock(SONNET_4);
    const model = wrapLanguageModel({ model: mock, middleware: cyclesModelMiddleware({ cycles: b.cycles }) });
    const result = await generateText({
      model,
      prompt: 'Think.',
      maxOutputTokens: 1000,
      providerOptions: { amazonBedrock: { reasoningConfig: { type: 'enabled', budgetTokens: 2000 } } },
    });
    expect(cyclesMetadata(result.providerMetadata).requestedMaxOutputTokens).toBe(3000);
    expect(mock.doGenerateCalls[0]?.providerOptions?.amazonBedrock).toEqual({
      reasoningConfig: { type: 'enabled', budgetTokens: 2000 },
    });
  });
});

describe("ai@7's portable `reasoning` setting", () => {
  const params = (extra: Record<string, unknown>) =>
    ({ prompt: [], maxOutputTokens: 500, ...extra }) as unknown as Parameters<typeof outputLimits>[0];

  it('is refused on Bedrock Anthropic models unless reasoningConfig sets the budget the provider will add', () => {
    for (const reasoning of ['minimal', 'low', 'medium', 'high', 'xhigh', 'max']) {
      let error: unknown;
      try {
        outputLimits(params({ reasoning }), 'amazon-bedrock', 'anthropic');
      } catch (caught) {
        error = caught;
      }
      expect(InvalidRequestError.isInstance(error), reasoning).toBe(true);
      expect((error as InvalidRequestError).details).toEqual({ field: 'reasoning' });
      expect((error as Error).message).toMatch(/providerOptions\.amazonBedrock\.reasoningConfig/);
    }
  });

  it('is accepted when it adds nothing: none, provider-default, a non-Anthropic model, or an explicit budget', () => {
    expect(outputLimits(params({ reasoning: 'none' }), 'amazon-bedrock', 'anthropic').maxOutputTokens).toBe(
      500,
    );
    expect(
      outputLimits(params({ reasoning: 'provider-default' }), 'amazon-bedrock', 'anthropic').maxOutputTokens,
    ).toBe(500);
    expect(outputLimits(params({ reasoning: 'high' }), 'amazon-bedrock', 'nova').maxOutputTokens).toBe(500);
    const explicit = params({
      reasoning: 'high',
      providerOptions: { bedrock: { reasoningConfig: { type: 'enabled', budgetTokens: 1500 } } },
    });
    expect(outputLimits(explicit, 'amazon-bedrock', 'anthropic')).toMatchObject({
      maxOutputTokens: 2000,
      reasoningBudgetTokens: 1500,
      thinking: { providerKey: 'bedrock' },
    });
  });
});
