import { describe, expect, it } from 'vitest';
import { CyclesError, InvalidConfigError, ModelNotPricedError } from '../protocol/errors.ts';
import { BEDROCK_PRICES, BEDROCK_PRICES_SOURCE, BEDROCK_PRICES_VERSION } from './bedrock-prices.ts';
import { createPriceCatalog } from './catalog.ts';
import { normalizeModelId } from './model-id.ts';

const SONNET_4 = 'anthropic.claude-sonnet-4-20250514-v1:0';

describe('BEDROCK_PRICES', () => {
  const REQUIRED = [
    'anthropic.claude-3-haiku-20240307-v1:0',
    'anthropic.claude-3-opus-20240229-v1:0',
    'anthropic.claude-3-5-haiku-20241022-v1:0',
    'anthropic.claude-3-5-sonnet-20240620-v1:0',
    'anthropic.claude-3-5-sonnet-20241022-v2:0',
    'anthropic.claude-3-7-sonnet-20250219-v1:0',
    SONNET_4,
    'anthropic.claude-sonnet-4-5-20250929-v1:0',
    'anthropic.claude-haiku-4-5-20251001-v1:0',
    'anthropic.claude-opus-4-20250514-v1:0',
    'anthropic.claude-opus-4-1-20250805-v1:0',
    'amazon.nova-micro-v1:0',
    'amazon.nova-lite-v1:0',
    'amazon.nova-pro-v1:0',
    'amazon.nova-premier-v1:0',
    'meta.llama3-8b-instruct-v1:0',
    'meta.llama3-70b-instruct-v1:0',
    'meta.llama3-1-8b-instruct-v1:0',
    'meta.llama3-1-70b-instruct-v1:0',
    'meta.llama3-1-405b-instruct-v1:0',
    'meta.llama3-2-1b-instruct-v1:0',
    'meta.llama3-2-3b-instruct-v1:0',
    'meta.llama3-2-11b-instruct-v1:0',
    'meta.llama3-2-90b-instruct-v1:0',
    'meta.llama3-3-70b-instruct-v1:0',
    'meta.llama4-scout-17b-instruct-v1:0',
    'meta.llama4-maverick-17b-instruct-v1:0',
    'mistral.mistral-7b-instruct-v0:2',
    'mistral.mixtral-8x7b-instruct-v0:1',
    'mistral.mistral-large-2402-v1:0',
    'mistral.mistral-large-2407-v1:0',
    'mistral.mistral-small-2402-v1:0',
    'amazon.titan-text-lite-v1',
    'amazon.titan-text-express-v1',
    'amazon.titan-text-premier-v1:0',
  ];
  /** Models added 2026-12-06 (the list: Claude 4.5+, Nova 2, DeepSeek, gpt-oss, Qwen, Gemma, ...). */
  const CURRENT = [
    'anthropic.claude-sonnet-4-6',
    'anthropic.claude-opus-4-6-v1',
    'anthropic.claude-opus-4-5-20251101-v1:0',
    'anthropic.claude-opus-4-7',
    'anthropic.claude-sonnet-5-5',
    'anthropic.claude-opus-5-5',
    'amazon.nova-2-lite-v1:0',
    'deepseek.r1-v1:0',
    'deepseek.v3-v1:0',
    'openai.gpt-oss-120b-1:0',
    'openai.gpt-oss-20b-1:0',
    'qwen.qwen3-235b-a22b-2507-v1:0',
    'google.gemma-3-27b-it',
    'mistral.pixtral-large-2502-v1:0',
    'cohere.command-r-plus-v1:0',
  ];

  it('covers every listed Bedrock text model, and the current ones', () => {
    const keys = Object.keys(BEDROCK_PRICES);
    for (const id of REQUIRED) expect(keys).toContain(id);
    for (const id of CURRENT) expect(keys).toContain(id);
  });

  it.each(Object.entries(BEDROCK_PRICES))(
    '%s has positive integer prices under a normalized key, a source and a date',
    (id, price) => {
      expect(normalizeModelId(id).modelId).toBe(id);
      const numbers = [
        price.inputPerMillion,
        price.outputPerMillion,
        price.cacheReadPerMillion,
        price.cacheWritePerMillion,
        price.cacheWrite1hPerMillion,
        price.maxOutputTokens,
        price.contextWindow,
        ...Object.values(price.global ?? {}),
      ].filter((value) => value !== undefined);
      for (const value of numbers) expect(Number.isSafeInteger(value) && (value as number) > 0).toBe(true);
      // Llama 3.3 70B: the higher of two published input prices ($2.65) is above its output price.
      if (id !== 'meta.llama3-3-70b-instruct-v1:0') {
        expect(price.outputPerMillion).toBeGreaterThanOrEqual(price.inputPerMillion);
      }
      if (price.cacheReadPerMillion !== undefined) {
        expect(price.cacheReadPerMillion).toBeLessThan(price.inputPerMillion);
      }
      expect(price.source).toMatch(/^https:\/\//);
      expect(price.asOf).toMatch(/^2026-\d{2}-\d{2}$/);
      expect(typeof price.verified).toBe('boolean');
      expect(Object.isFrozen(price)).toBe(true);
    },
  );

  it('converts USD per 1M tokens to microcents per 1M tokens', () => {
    expect(BEDROCK_PRICES[SONNET_4]).toMatchObject({
      inputPerMillion: 300_000_000,
      outputPerMillion: 1_500_000_000,
      cacheReadPerMillion: 30_000_000,
      cacheWritePerMillion: 375_000_000,
      maxOutputTokens: 64_000,
    });
    expect(BEDROCK_PRICES['amazon.nova-micro-v1:0']).toMatchObject({
      inputPerMillion: 3_500_000,
      outputPerMillion: 14_000_000,
      cacheReadPerMillion: 875_000,
    });
    expect(BEDROCK_PRICES['anthropic.claude-opus-4-1-20250805-v1:0']?.maxOutputTokens).toBe(32_000);
  });

  it('is frozen and carries a dated source note', () => {
    expect(Object.isFrozen(BEDROCK_PRICES)).toBe(true);
    expect(BEDROCK_PRICES_SOURCE).toMatch(/as of \d{4}-\d{2}-\d{2}, us-east-1 on-demand/);
    expect(BEDROCK_PRICES_VERSION).toBe('builtin-2026-12-06');
  });
});

describe('createPriceCatalog', () => {
  it('remembers resolutions as frozen values shared between lookups', () => {
    const catalog = createPriceCatalog();
    const first = catalog.resolve(`us.${SONNET_4}`);
    expect(catalog.resolve(`us.${SONNET_4}`)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(first.modelId).toBe(SONNET_4);
    expect(catalog.has(`us.${SONNET_4}`)).toBe(true);
    expect(() => catalog.resolve('us.acme.unknown-v1:0')).toThrow(ModelNotPricedError);
    expect(() => catalog.resolve('us.acme.unknown-v1:0')).toThrow(ModelNotPricedError);
  });

  const catalog = createPriceCatalog();

  it('resolves base ids, inference profiles and ARNs to the same price', () => {
    const base = catalog.resolve(SONNET_4);
    expect(base).toMatchObject({
      requestedId: SONNET_4,
      modelId: SONNET_4,
      family: 'anthropic',
      price: BEDROCK_PRICES[SONNET_4],
      dimensions: { endpoint: 'in-region', serviceTier: 'default', cacheTtl: '5m', region: undefined },
      priceVersion: BEDROCK_PRICES_VERSION,
    });
    for (const id of [
      `us.${SONNET_4}`,
      `global.${SONNET_4}`,
      `APAC.${SONNET_4.toUpperCase()}`,
      `arn:aws:bedrock:us-east-1::foundation-model/${SONNET_4}`,
      `arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.${SONNET_4}`,
    ]) {
      const resolved = catalog.resolve(id);
      expect(resolved.requestedId).toBe(id);
      expect(resolved.modelId).toBe(SONNET_4);
      expect(resolved.price).toBe(base.price);
      expect(catalog.has(id)).toBe(true);
    }
  });

  it('refuses unknown models with ModelNotPricedError naming the id and the fix', () => {
    expect(catalog.has('us.acme.unknown-v1:0')).toBe(false);
    let error: unknown;
    try {
      catalog.resolve('us.acme.unknown-v1:0');
    } catch (caught) {
      error = caught;
    }
    expect(ModelNotPricedError.isInstance(error)).toBe(true);
    expect(CyclesError.isInstance(error) && error.code).toBe('MODEL_NOT_PRICED');
    const message = (error as Error).message;
    expect(message).toContain("'us.acme.unknown-v1:0'");
    expect(message).toContain("base id 'acme.unknown-v1:0'");
    expect(message).toContain('createCycles({ prices:');
    expect(message).toContain('$0');
    expect((error as CyclesError).details).toEqual({
      modelId: 'us.acme.unknown-v1:0',
      normalizedModelId: 'acme.unknown-v1:0',
    });
  });

  it('lets overrides win field by field and add new ids', () => {
    const custom = createPriceCatalog({
      prices: {
        [`us.${SONNET_4}`]: { inputPerMillion: 250_000_000, outputPerMillion: 1_200_000_000 },
        'Acme.Model-V1': { inputPerMillion: 1, outputPerMillion: 2, maxOutputTokens: 1000 },
      },
    });
    expect(custom.resolve(SONNET_4).price).toEqual({
      ...BEDROCK_PRICES[SONNET_4],
      inputPerMillion: 250_000_000,
      outputPerMillion: 1_200_000_000,
    });
    expect(custom.resolve('us.acme.model-v1')).toMatchObject({
      modelId: 'acme.model-v1',
      family: 'other',
      price: { inputPerMillion: 1, outputPerMillion: 2, maxOutputTokens: 1000 },
    });
    expect(catalog.resolve(SONNET_4).price.inputPerMillion).toBe(300_000_000);
  });

  it('can leave the Bedrock defaults out', () => {
    const only = createPriceCatalog({
      includeBedrockDefaults: false,
      prices: { 'acme.model-v1': { inputPerMillion: 1, outputPerMillion: 2, maxOutputTokens: 10 } },
    });
    expect(only.has(SONNET_4)).toBe(false);
    expect(() => only.resolve(SONNET_4)).toThrow(ModelNotPricedError);
    expect(only.has('acme.model-v1')).toBe(true);
  });

  it('rejects overrides that are not positive integers or lack an output ceiling', () => {
    const bad = [
      { inputPerMillion: 0, outputPerMillion: 1 },
      { inputPerMillion: 3.5, outputPerMillion: 1 },
      { inputPerMillion: 1, outputPerMillion: -1 },
      { inputPerMillion: 1, outputPerMillion: 1, cacheReadPerMillion: 0 },
    ];
    for (const price of bad) {
      expect(() => createPriceCatalog({ prices: { [SONNET_4]: price } })).toThrow(InvalidConfigError);
    }
    expect(() =>
      createPriceCatalog({ prices: { 'acme.x': { inputPerMillion: 1, outputPerMillion: 1 } } }),
    ).toThrow(/maxOutputTokens is required/);
  });
});
