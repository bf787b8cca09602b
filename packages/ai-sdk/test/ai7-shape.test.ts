import type { LanguageModelV3CallOptions } from '@ai-sdk/provider';
import { MockLanguageModelV3 } from 'ai/test';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { cyclesMiddleware } from '../src/index.ts';
import { budget, HAIKU } from './helpers.ts';

/**
 * ai@7's `LanguageModelMiddleware` (FRAMEWORKS §1.5): the v4 hooks, same shapes as v3, with
 * `specificationVersion` optional and any string. ai@7 needs Node 22, so this is checked by shape.
 */
interface Ai7LanguageModelMiddleware {
  specificationVersion?: string;
  overrideProvider?: (options: never) => string;
  overrideModelId?: (options: never) => string;
  overrideSupportedUrls?: (options: never) => unknown;
  transformParams?: (options: never) => PromiseLike<unknown>;
  wrapGenerate?: (options: never) => PromiseLike<unknown>;
  wrapStream?: (options: never) => PromiseLike<unknown>;
}

const V7_KEYS = new Set([
  'specificationVersion',
  'overrideProvider',
  'overrideModelId',
  'overrideSupportedUrls',
  'transformParams',
  'wrapGenerate',
  'wrapStream',
]);

describe('ai@7 compatibility of the middleware object', () => {
  const middleware = cyclesMiddleware();

  it('has only keys ai@7 knows, each hook a function, tagged v3 for ai@6', () => {
    expect(middleware.specificationVersion).toBe('v3');
    for (const [key, value] of Object.entries(middleware)) {
      expect(V7_KEYS.has(key), key).toBe(true);
      if (key !== 'specificationVersion') expect(typeof value, key).toBe('function');
    }
    expect(Object.keys(middleware).sort()).toEqual(['specificationVersion', 'wrapGenerate', 'wrapStream']);
  });

  it('is assignable to the ai@7 middleware type, with no extra keys', () => {
    expectTypeOf(middleware).toExtend<Ai7LanguageModelMiddleware>();
    expectTypeOf<Exclude<keyof typeof middleware, keyof Ai7LanguageModelMiddleware>>().toEqualTypeOf<never>();
  });

  it('passes v4-only call options (e.g. `reasoning`) through to the model untouched', async () => {
    const b = budget(1e12);
    const mock = new MockLanguageModelV3({
      provider: 'amazon-bedrock',
      modelId: HAIKU,
      doGenerate: {
        content: [],
        finishReason: { unified: 'stop', raw: 'end_turn' },
        usage: {
          inputTokens: { total: 3, noCache: 3, cacheRead: 0, cacheWrite: 0 },
          outputTokens: { total: 2, text: 2, reasoning: undefined },
        },
        warnings: [],
      },
    });
    const params = {
      prompt: [{ role: 'user', content: [{ type: 'text', text: 'x' }] }],
      maxOutputTokens: 100,
      reasoning: 'high',
    } as LanguageModelV3CallOptions;
    await cyclesMiddleware({ cycles: b.cycles }).wrapGenerate?.({
      params,
      model: mock,
      doGenerate: () => mock.doGenerate(params),
      doStream: () => mock.doStream(params),
    });
    expect(mock.doGenerateCalls[0]).toMatchObject({ reasoning: 'high', maxOutputTokens: 100 });
    expect((await b.state()).reserved).toBe(0);
  });
});
