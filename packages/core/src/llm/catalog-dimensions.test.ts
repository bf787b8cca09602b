import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cyclesFromEnv } from '../cycles.ts';
import { InvalidConfigError, InvalidRequestError, ModelNotPricedError } from '../protocol/errors.ts';
import { BEDROCK_PRICES, BEDROCK_PRICES_VERSION } from './bedrock-prices.ts';
import { createPriceCatalog } from './catalog.ts';
import type { ServiceTier } from './price-dimensions.ts';

const SONNET_46 = 'anthropic.claude-sonnet-4-6';
const GPT_OSS = 'openai.gpt-oss-120b-1:0';
const APP_PROFILE = 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6';

describe('catalog: id forms of the current models', () => {
  const catalog = createPriceCatalog();

  it.each(['', 'us.', 'eu.', 'jp.', 'au.', 'apac.', 'global.'])(
    'prices %santhropic.claude-sonnet-4-6',
    (prefix) => {
      expect(catalog.resolve(`${prefix}${SONNET_46}`).modelId).toBe(SONNET_46);
    },
  );

  it('accepts the -v1 / :0 spellings of undated ids and dated ones alike', () => {
    for (const id of [
      'anthropic.claude-opus-4-6-v1',
      'anthropic.claude-opus-4-6-v1:0',
      'anthropic.claude-opus-4-6',
      'global.anthropic.claude-opus-4-6-v1',
    ]) {
      expect(catalog.resolve(id).modelId).toBe('anthropic.claude-opus-4-6-v1');
    }
    expect(catalog.resolve('anthropic.claude-sonnet-4-6-v1:0').modelId).toBe(SONNET_46);
    expect(
      catalog.resolve(`arn:aws:bedrock:us-west-2::foundation-model/${SONNET_46}`).dimensions.region,
    ).toBe('us-west-2');
  });
});

describe('catalog: pricing dimensions', () => {
  const catalog = createPriceCatalog();
  const sonnet = BEDROCK_PRICES[SONNET_46];

  it('prices global profiles of Claude 4.5+ at the global (10% lower) rates, geo and in-region at the list', () => {
    const global = catalog.resolve(`global.${SONNET_46}`);
    const geo = catalog.resolve(`us.${SONNET_46}`);
    expect(global.dimensions.endpoint).toBe('global');
    expect(global.rates.rates.inputPerMillion).toBe(300_000_000);
    expect(geo.rates.rates.inputPerMillion).toBe(330_000_000);
    expect(geo.rates.rates.outputPerMillion).toBe(1_650_000_000);
    expect(catalog.resolve(SONNET_46).rates.rates).toEqual(geo.rates.rates);
  });

  it('applies the service tier: priority +75% by default, flex only where a discount is known, reserved at standard', () => {
    const standard = catalog.resolve(GPT_OSS).rates.rates;
    expect(catalog.resolve(GPT_OSS, { serviceTier: 'priority' }).rates.rates.outputPerMillion).toBe(
      Math.ceil((standard.outputPerMillion * 175) / 100),
    );
    expect(catalog.resolve(GPT_OSS, { serviceTier: 'flex' }).rates.rates.inputPerMillion).toBe(
      standard.inputPerMillion / 2,
    );
    expect(catalog.resolve(SONNET_46, { serviceTier: 'flex' }).rates.rates).toEqual(
      catalog.resolve(SONNET_46).rates.rates,
    );
    expect(catalog.resolve(GPT_OSS, { serviceTier: 'reserved' }).rates.rates).toEqual(standard);
    expect(catalog.resolve(GPT_OSS, { serviceTier: 'default' }).rates.rates).toEqual(standard);
  });

  it('carries long-context rates (input x2, output x1.5 above 200K) and the 1-hour cache write', () => {
    const resolved = catalog.resolve(SONNET_46);
    expect(resolved.rates.longContext).toEqual({
      aboveInputTokens: 200_000,
      rates: {
        inputPerMillion: 660_000_000,
        outputPerMillion: 2_475_000_000,
        cacheReadPerMillion: 66_000_000,
        cacheWritePerMillion: 825_000_000,
        cacheWrite1hPerMillion: 1_320_000_000,
      },
    });
    expect(sonnet?.cacheWrite1hPerMillion).toBe(660_000_000);
    expect(catalog.resolve(SONNET_46, { cacheTtl: '1h' }).dimensions.cacheTtl).toBe('1h');
  });

  it('uses region-specific rates of a source region, but not for global profiles', () => {
    const custom = createPriceCatalog({
      prices: {
        [GPT_OSS]: {
          inputPerMillion: 15_000_000,
          outputPerMillion: 60_000_000,
          regions: { 'eu-west-2': { inputPerMillion: 19_000_000 } },
        },
      },
    });
    expect(custom.resolve(GPT_OSS, { region: 'eu-west-2' }).rates.rates.inputPerMillion).toBe(19_000_000);
    expect(custom.resolve(GPT_OSS, { region: 'us-east-1' }).rates.rates.inputPerMillion).toBe(15_000_000);
    expect(
      custom.resolve(`arn:aws:bedrock:eu-west-2::foundation-model/${GPT_OSS}`).rates.rates.inputPerMillion,
    ).toBe(19_000_000);
  });

  it('refuses invalid dimensions with a typed error naming the field', () => {
    expect(() => catalog.resolve(GPT_OSS, { serviceTier: 'gold' as never })).toThrow(InvalidRequestError);
    expect(() => catalog.resolve(GPT_OSS, { serviceTier: 'gold' as never })).toThrow(/serviceTier/);
    expect(() => catalog.resolve(GPT_OSS, { cacheTtl: '2h' as never })).toThrow(/cacheTtl/);
    expect(() => catalog.resolve(GPT_OSS, { region: 'mars' })).toThrow(/region/);
    for (const region of ['us-gov-west-1', 'eusc-de-east-1', 'ap-southeast-3']) {
      expect(catalog.resolve(GPT_OSS, { region }).dimensions.region).toBe(region);
    }
  });
});

describe('catalog: application inference profiles', () => {
  it('prices a mapped profile as its model, at regional (not global) rates', () => {
    const catalog = createPriceCatalog({ inferenceProfiles: { [APP_PROFILE]: `global.${SONNET_46}` } });
    const model = catalog.resolve(APP_PROFILE);
    expect(model.modelId).toBe(SONNET_46);
    expect(model.requestedId).toBe(APP_PROFILE);
    expect(model.dimensions.region).toBe('us-east-1');
    expect(model.rates.rates.inputPerMillion).toBe(300_000_000);
  });

  it('refuses an unmapped profile, saying how to map it', () => {
    expect(() => createPriceCatalog().resolve(APP_PROFILE)).toThrow(ModelNotPricedError);
    expect(() => createPriceCatalog().resolve(APP_PROFILE)).toThrow(/inferenceProfiles/);
    expect(() => createPriceCatalog({ inferenceProfiles: { 'anthropic.x': SONNET_46 } })).toThrow(
      InvalidConfigError,
    );
  });
});

describe('catalog: unknown models', () => {
  it('are refused by default', () => {
    expect(() => createPriceCatalog().resolve('acme.unknown-v1:0')).toThrow(ModelNotPricedError);
  });

  it('can be priced like a named model, and say so', () => {
    const catalog = createPriceCatalog({ unknownModels: { priceAs: 'anthropic.claude-opus-4-8' } });
    const model = catalog.resolve('us.acme.unknown-v1:0');
    expect(model.modelId).toBe('acme.unknown-v1:0');
    expect(model.pricedAs).toBe('anthropic.claude-opus-4-8');
    expect(model.price).toBe(BEDROCK_PRICES['anthropic.claude-opus-4-8']);
  });

  it('can be priced at a stated maximum, never $0', () => {
    const maximum = {
      inputPerMillion: 2_000_000_000,
      outputPerMillion: 10_000_000_000,
      maxOutputTokens: 8192,
    };
    const model = createPriceCatalog({ unknownModels: { maximum } }).resolve('acme.x');
    expect(model.pricedAs).toBe('maximum');
    expect(model.rates.rates).toMatchObject({
      inputPerMillion: 2_000_000_000,
      outputPerMillion: 10_000_000_000,
    });
    for (const bad of [
      { priceAs: 'acme.nothing' },
      { maximum: { ...maximum, inputPerMillion: 0 } },
      { maximum: { ...maximum, maxOutputTokens: undefined as never } },
      'allow' as never,
    ]) {
      expect(() => createPriceCatalog({ unknownModels: bad })).toThrow(InvalidConfigError);
    }
  });
});

describe('catalog: prices file and reload', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cycles-prices-'));
  const write = (name: string, body: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, typeof body === 'string' ? body : JSON.stringify(body));
    return path;
  };

  it('lays the file over the built-in prices and reports its version', () => {
    const path = write('a.json', {
      version: '2026-12-06-us-east-1',
      models: {
        [`us.${SONNET_46}`]: { input: 3.5, output: 17.5, global: { input: 3.2 } },
        'acme.model-v1': { input: 1, output: 2, maxOutputTokens: 4096 },
      },
    });
    const catalog = createPriceCatalog({ pricesFile: path });
    expect(catalog.version).toBe('2026-12-06-us-east-1');
    const model = catalog.resolve(SONNET_46);
    expect(model.priceVersion).toBe('2026-12-06-us-east-1');
    expect(model.rates.rates.inputPerMillion).toBe(350_000_000);
    expect(model.price.cacheReadPerMillion).toBe(BEDROCK_PRICES[SONNET_46]?.cacheReadPerMillion);
    expect(catalog.resolve(`global.${SONNET_46}`).rates.rates.inputPerMillion).toBe(320_000_000);
    expect(catalog.resolve('acme.model-v1').price.maxOutputTokens).toBe(4096);
  });

  it('reloads at run time; an invalid file keeps the old prices', () => {
    const first = write('b.json', { version: 'v1', models: { [GPT_OSS]: { input: 0.15, output: 0.6 } } });
    const catalog = createPriceCatalog({ pricesFile: first });
    const before = catalog.resolve(GPT_OSS);
    writeFileSync(
      first,
      JSON.stringify({ version: 'v2', models: { [GPT_OSS]: { input: 0.2, output: 0.8 } } }),
    );
    expect(catalog.reload()).toBe('v2');
    const after = catalog.resolve(GPT_OSS);
    expect(after.priceVersion).toBe('v2');
    expect(after.rates.rates.inputPerMillion).toBe(20_000_000);
    expect(before.rates.rates.inputPerMillion).toBe(15_000_000);
    const broken = write('c.json', { version: 'v3', models: { [GPT_OSS]: { input: 0, output: 1 } } });
    expect(() => catalog.reload(broken)).toThrow(InvalidConfigError);
    expect(catalog.version).toBe('v2');
    expect(catalog.resolve(GPT_OSS).rates.rates.inputPerMillion).toBe(20_000_000);
  });

  it('rejects malformed files with the field and the fix', () => {
    const cases: [unknown, RegExp][] = [
      ['{not json', /not valid JSON/],
      [{ models: { a: { input: 1, output: 1 } } }, /version/],
      [{ version: 'v', models: {} }, /models/],
      [{ version: 'v', models: { [GPT_OSS]: { input: -1 } } }, /input must be a positive USD price/],
      [{ version: 'v', models: { [GPT_OSS]: { input: 1e-9 } } }, /at most 8 decimals/],
      [{ version: 'v', models: { [GPT_OSS]: { inptu: 1 } } }, /inptu is not a known field/],
      [{ version: 'v', models: { [GPT_OSS]: { global: { max: 1 } } } }, /global.max is not a known field/],
      [{ version: 'v', models: { 'acme.x': { input: 1, output: 1 } } }, /maxOutputTokens is required/],
      [
        {
          version: 'v',
          models: {
            [GPT_OSS]: { longContext: { aboveInputTokens: 1, inputPercent: 50, outputPercent: 100 } },
          },
        },
        /inputPercent/,
      ],
    ];
    for (const [body, message] of cases) {
      expect(() => createPriceCatalog({ pricesFile: write('bad.json', body) })).toThrow(message);
    }
    expect(() => createPriceCatalog({ pricesFile: join(dir, 'missing.json') })).toThrow(
      /Cannot read prices file/,
    );
  });

  it('defaults to the built-in version', () => {
    expect(createPriceCatalog().version).toBe(BEDROCK_PRICES_VERSION);
    expect(createPriceCatalog({ version: 'mine' }).resolve(GPT_OSS).priceVersion).toBe('mine');
  });
});

describe('catalog: every built-in entry under every dimension', () => {
  const catalog = createPriceCatalog();
  const ids = Object.keys(BEDROCK_PRICES);
  const prefixes = ['', 'us.', 'eu.', 'global.', 'arn:aws:bedrock:eu-west-2::foundation-model/'];

  it('property: rates are positive; priority and long context never below standard; only a declared flex or global rate is lower', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ids),
        fc.constantFrom(...prefixes),
        fc.constantFrom<ServiceTier>('default', 'priority', 'flex', 'reserved'),
        (id, prefix, serviceTier) => {
          const entry = BEDROCK_PRICES[id];
          if (entry === undefined) throw new Error(id);
          const model = catalog.resolve(`${prefix}${id}`, { serviceTier });
          const standard = catalog.resolve(id).rates.rates;
          const { rates, longContext } = model.rates;
          for (const value of Object.values(rates)) expect(value).toBeGreaterThan(0);
          const cheaper =
            (serviceTier === 'flex' && entry.flexPercent !== undefined && entry.flexPercent < 100) ||
            (prefix === 'global.' && entry.global !== undefined);
          if (!cheaper) {
            expect(rates.inputPerMillion).toBeGreaterThanOrEqual(standard.inputPerMillion);
            expect(rates.outputPerMillion).toBeGreaterThanOrEqual(standard.outputPerMillion);
          }
          if (longContext !== undefined) {
            expect(longContext.rates.inputPerMillion).toBeGreaterThanOrEqual(rates.inputPerMillion);
            expect(longContext.rates.outputPerMillion).toBeGreaterThanOrEqual(rates.outputPerMillion);
          }
          expect(model.modelId).toBe(id);
          expect(model.priceVersion).toBe(BEDROCK_PRICES_VERSION);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('catalog: prices file from the environment', () => {
  it('cyclesFromEnv reads CYCLES_PRICES_FILE', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cycles-prices-env-'));
    const path = join(dir, 'prices.json');
    writeFileSync(
      path,
      JSON.stringify({ version: 'env-v1', models: { [GPT_OSS]: { input: 0.2, output: 0.8 } } }),
    );
    const cycles = cyclesFromEnv({ CYCLES_PRICES_FILE: path });
    expect(cycles.catalog.version).toBe('env-v1');
    expect(cycles.catalog.resolve(GPT_OSS).rates.rates.outputPerMillion).toBe(80_000_000);
  });
});
