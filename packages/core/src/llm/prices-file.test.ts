import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MODEL_KEYS, parsePricesFile, RATE_KEYS } from './prices-file.ts';

const schema = JSON.parse(readFileSync(new URL('../../prices.schema.json', import.meta.url), 'utf8'));

describe('prices file', () => {
  it('reads exactly the fields its JSON schema documents', () => {
    expect(new Set(Object.keys(schema.$defs.model.properties))).toEqual(MODEL_KEYS);
    expect(new Set(Object.keys(schema.$defs.rates.properties))).toEqual(RATE_KEYS);
    expect(new Set(Object.keys(schema.properties))).toEqual(
      new Set(['$schema', 'version', 'source', 'models']),
    );
    expect(() => parsePricesFile({ version: 'v', models: { a: {} }, extra: 1 })).toThrow(
      /extra is not a known field/,
    );
  });

  it('converts USD per 1M tokens to microcents exactly', () => {
    const loaded = parsePricesFile({
      version: 'v',
      source: 'test',
      models: {
        'a.b': {
          input: 0.035,
          output: 16.5,
          cacheWrite1h: 6.6,
          regions: { 'eu-west-2': { input: 0.04 } },
          longContext: { aboveInputTokens: 200_000, inputPercent: 200, outputPercent: 150 },
          verified: true,
        },
      },
    });
    expect(loaded).toEqual({
      version: 'v',
      source: 'test',
      prices: {
        'a.b': {
          inputPerMillion: 3_500_000,
          outputPerMillion: 1_650_000_000,
          cacheWrite1hPerMillion: 660_000_000,
          regions: { 'eu-west-2': { inputPerMillion: 4_000_000 } },
          longContext: { aboveInputTokens: 200_000, inputPercent: 200, outputPercent: 150 },
          verified: true,
        },
      },
    });
  });
});
