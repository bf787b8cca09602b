import { BedrockClient } from '@aws-sdk/client-bedrock';
import {
  type BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
} from '@aws-sdk/client-bedrock-runtime';
import type { BedrockEmulator, RecordedRequest } from '@cycles-guard/bedrock-emulator';
import { startBedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { type Cycles, createCycles, createMemoryLedger, type Ledger } from '@cycles-guard/core';
import {
  type PriceCatalogOptions,
  type PriceDimensions,
  type TokenRates,
  tokenCost,
  usageCost,
} from '@cycles-guard/core/llm';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CyclesBedrockOptions,
  createGuardedBedrockClient,
  createInferenceProfileResolver,
  getCyclesResult,
} from '../src/index.ts';
import { SCOPE } from './helpers.ts';

// One end-to-end test per pricing dimension: BedrockRuntimeClient + plugin + emulator, with the input
// counted exactly (CountTokens), so the hold and the charge can be checked to the microcent at the
// dimension's rate.

const SONNET_46 = 'anthropic.claude-sonnet-4-6';
const GPT_OSS = 'openai.gpt-oss-120b-1:0';
const PROFILE = 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6';
const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' };

let emulator: BedrockEmulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

interface Setup {
  client: BedrockRuntimeClient;
  cycles: Cycles;
  ledger: Ledger;
  emulator: BedrockEmulator;
}

async function setup(
  catalog: Omit<PriceCatalogOptions, 'includeBedrockDefaults'> = {},
  plugin: CyclesBedrockOptions = {},
  region = 'us-east-1',
): Promise<Setup> {
  emulator = await startBedrockEmulator({
    outputTokens: 20,
    inferenceProfiles: { [PROFILE]: `global.${SONNET_46}` },
  });
  const ledger = createMemoryLedger({
    sweepIntervalMs: 0,
    ledgers: [{ scope: SCOPE, unit: 'USD_MICROCENTS', allocated: 100_000_000_000 }],
  });
  const cycles = createCycles({ authority: ledger, subject: { tenant: 'acme' }, ...catalog });
  const client = createGuardedBedrockClient(
    { region, endpoint: emulator.url, credentials, requestHandler: new NodeHttpHandler(), maxAttempts: 1 },
    { cycles, countTokens: true, ...plugin },
  );
  return { client, cycles, ledger, emulator };
}

/** The rates a request with these dimensions is priced at, from the catalog. */
function ratesOf(cycles: Cycles, modelId: string, dimensions?: PriceDimensions): TokenRates {
  return cycles.catalog.resolve(modelId, dimensions).rates.rates;
}

/**
 * Checks the hold (counted input at the dearer of input and cache-write rates, plus the granted
 * output) and the charge (the emulator's usage) at `rates`; returns the reservation's commit metadata.
 */
async function expectPricedAt(
  { ledger, emulator: bedrock }: Setup,
  output: unknown,
  rates: TokenRates,
  inputRate: number = Math.max(rates.inputPerMillion, rates.cacheWritePerMillion ?? 0),
) {
  const result = getCyclesResult(output);
  if (result === undefined) throw new Error('the call was not guarded');
  await bedrock.waitForIdle();
  const sent = bedrock.requests
    .filter((request) => request.operation !== 'CountTokens')
    .at(-1) as RecordedRequest;
  const counted = sent.inputTokens + sent.cacheReadInputTokens + sent.cacheWriteInputTokens;
  const detail = await ledger.getReservation(result.reservationId);
  expect(detail.reserved.amount).toBe(
    tokenCost(counted, inputRate) + tokenCost(result.grantedMaxOutputTokens, rates.outputPerMillion),
  );
  const charge = usageCost(
    {
      inputTokens: sent.inputTokens,
      outputTokens: sent.outputTokens,
      cacheReadInputTokens: sent.cacheReadInputTokens,
      cacheWriteInputTokens: sent.cacheWriteInputTokens,
      cacheWrite1hInputTokens: sent.cacheWrite1hInputTokens,
    },
    rates,
  );
  expect(detail.committed?.amount).toBe(charge);
  expect(result.charged).toBe(charge);
  return { metadata: detail.committedMetadata, result };
}

const hello = [{ role: 'user' as const, content: [{ text: 'Hello there, price me right.' }] }];

describe('pricing dimensions end to end (BedrockRuntimeClient + plugin + emulator)', () => {
  it('service tier priority (Converse): reserved and committed at the priority rate', async () => {
    const s = await setup();
    const output = await s.client.send(
      new ConverseCommand({ modelId: GPT_OSS, messages: hello, serviceTier: { type: 'priority' } }),
    );
    const priority = ratesOf(s.cycles, GPT_OSS, { serviceTier: 'priority' });
    expect(priority.inputPerMillion).toBe(
      Math.ceil((ratesOf(s.cycles, GPT_OSS).inputPerMillion * 175) / 100),
    );
    const { metadata, result } = await expectPricedAt(s, output, priority);
    expect(metadata).toMatchObject({ price_version: s.cycles.catalog.version, service_tier: 'priority' });
    expect(result.priceVersion).toBe(s.cycles.catalog.version);
    expect(s.emulator.requests.at(-1)?.serviceTier).toBe('priority');
  });

  it('service tier flex (InvokeModel): reserved and committed at the flex rate', async () => {
    const s = await setup();
    const output = await s.client.send(
      new InvokeModelCommand({
        modelId: GPT_OSS,
        serviceTier: 'flex',
        body: JSON.stringify({
          messages: [{ role: 'user', content: 'Hello flex' }],
          max_completion_tokens: 300,
        }),
      }),
    );
    const flex = ratesOf(s.cycles, GPT_OSS, { serviceTier: 'flex' });
    expect(flex.inputPerMillion).toBe(ratesOf(s.cycles, GPT_OSS).inputPerMillion / 2);
    await expectPricedAt(s, output, flex);
    expect(s.emulator.requests.at(-1)?.maxTokens).toBe(300);
  });

  it('service tier reserved (Converse): reserved and committed at the standard rate (overflow bills standard)', async () => {
    const s = await setup();
    const output = await s.client.send(
      new ConverseCommand({ modelId: GPT_OSS, messages: hello, serviceTier: { type: 'reserved' } }),
    );
    const rates = ratesOf(s.cycles, GPT_OSS, { serviceTier: 'reserved' });
    expect(rates).toEqual(ratesOf(s.cycles, GPT_OSS));
    const { metadata } = await expectPricedAt(s, output, rates);
    expect(metadata).toMatchObject({ service_tier: 'reserved' });
  });

  it('long context (ConverseStream above 200K input): reserved and committed at the long-context rates', async () => {
    const s = await setup();
    const big = 'word '.repeat(170_000); // 850,000 bytes: 212,500 tokens by the emulator's rule
    const output = await s.client.send(
      new ConverseStreamCommand({
        modelId: SONNET_46,
        messages: [{ role: 'user', content: [{ text: big }] }],
        inferenceConfig: { maxTokens: 500 },
      }),
    );
    for await (const _ of output.stream ?? []) {
      // drain: the stream settles at its end
    }
    const long = s.cycles.catalog.resolve(SONNET_46).rates.longContext;
    if (long === undefined) throw new Error('Sonnet 4.6 bills long context');
    expect(s.emulator.requests.at(-1)?.inputTokens).toBeGreaterThan(long.aboveInputTokens);
    await expectPricedAt(s, output, long.rates);
  });

  it('1-hour cache writes (Converse cachePoint ttl 1h): reserved and committed at the 1-hour write rate', async () => {
    const s = await setup();
    const output = await s.client.send(
      new ConverseCommand({
        modelId: SONNET_46,
        system: [
          { text: 'A long, stable system prompt. '.repeat(100) },
          { cachePoint: { type: 'default', ttl: '1h' } },
        ],
        messages: hello,
      }),
    );
    const rates = ratesOf(s.cycles, SONNET_46, { cacheTtl: '1h' });
    expect(s.emulator.requests.at(-1)?.cacheWrite1hInputTokens).toBeGreaterThan(0);
    await expectPricedAt(s, output, rates, rates.cacheWrite1hPerMillion);
  });

  it('global vs geo profile: global.* at the global rate, us.* at the geo rate', async () => {
    const s = await setup();
    const global = await s.client.send(
      new ConverseCommand({ modelId: `global.${SONNET_46}`, messages: hello }),
    );
    const globalRates = ratesOf(s.cycles, `global.${SONNET_46}`);
    const { metadata } = await expectPricedAt(s, global, globalRates);
    expect(metadata).toMatchObject({ endpoint: 'global' });
    const geo = await s.client.send(new ConverseCommand({ modelId: `us.${SONNET_46}`, messages: hello }));
    const geoRates = ratesOf(s.cycles, `us.${SONNET_46}`);
    await expectPricedAt(s, geo, geoRates);
    expect(geoRates.inputPerMillion).toBeGreaterThan(globalRates.inputPerMillion);
  });

  it('region-specific rates: a client in eu-west-2 is reserved and committed at the region rate', async () => {
    const regional = {
      [GPT_OSS]: {
        inputPerMillion: 15_000_000,
        outputPerMillion: 60_000_000,
        regions: { 'eu-west-2': { inputPerMillion: 19_000_000, outputPerMillion: 77_000_000 } },
      },
    };
    const s = await setup({ prices: regional }, {}, 'eu-west-2');
    const output = await s.client.send(new ConverseCommand({ modelId: GPT_OSS, messages: hello }));
    const rates = ratesOf(s.cycles, GPT_OSS, { region: 'eu-west-2' });
    expect(rates.inputPerMillion).toBe(19_000_000);
    await expectPricedAt(s, output, rates);
  });

  it('application inference profile: resolved once through GetInferenceProfile, priced as its model', async () => {
    const lookups: unknown[] = [];
    const controlPlane = () => {
      const client = new BedrockClient({
        region: 'us-east-1',
        endpoint: emulator?.url,
        credentials,
        requestHandler: new NodeHttpHandler(),
        maxAttempts: 1,
      });
      client.middlewareStack.add(
        (next) => (args) => {
          lookups.push(args.input);
          return next(args);
        },
        { step: 'initialize', name: 'countLookups' },
      );
      return client;
    };
    let resolver: ReturnType<typeof createInferenceProfileResolver> | undefined;
    const s = await setup(
      {},
      {
        // The control-plane client needs the emulator's URL, known once setup has started it.
        resolveInferenceProfile: (arn) => {
          resolver ??= createInferenceProfileResolver({ client: controlPlane() });
          return resolver(arn);
        },
      },
    );
    for (let index = 0; index < 2; index++) {
      const output = await s.client.send(new ConverseCommand({ modelId: PROFILE, messages: hello }));
      // The profile's model ARN names its region: priced in-region (geo rates), never the cheaper global.
      await expectPricedAt(s, output, ratesOf(s.cycles, `us.${SONNET_46}`));
    }
    expect(lookups).toEqual([{ inferenceProfileIdentifier: PROFILE }]);
    expect(s.emulator.requests.at(-1)?.resolvedModelId).toBe(SONNET_46);
  });

  it('an application profile without a mapping or resolver is refused before sending', async () => {
    const s = await setup();
    await expect(
      s.client.send(new ConverseCommand({ modelId: PROFILE, messages: hello })),
    ).rejects.toMatchObject({
      code: 'MODEL_NOT_PRICED',
    });
    expect(s.emulator.requests.filter((request) => request.operation === 'Converse')).toHaveLength(0);
  });

  it('an unknown model is refused by default and priced by an explicit policy', async () => {
    const refused = await setup({}, {}, 'us-east-1');
    await expect(
      refused.client.send(new ConverseCommand({ modelId: 'acme.unknown-v1:0', messages: hello })),
    ).rejects.toMatchObject({ code: 'MODEL_NOT_PRICED' });
    await refused.emulator.close();
    emulator = undefined;
    const s = await setup({ unknownModels: { priceAs: SONNET_46 } });
    // The emulator knows gemma; the catalog is told to price "gemma-4" (unknown) like Sonnet 4.6.
    await s.emulator.close();
    emulator = await startBedrockEmulator({
      outputTokens: 20,
      models: { 'google.gemma-4-it': { family: 'openai', maxOutputTokens: 8192 } },
    });
    const client = createGuardedBedrockClient(
      {
        region: 'us-east-1',
        endpoint: emulator.url,
        credentials,
        requestHandler: new NodeHttpHandler(),
        maxAttempts: 1,
      },
      { cycles: s.cycles, countTokens: true },
    );
    // Priced like Sonnet 4.6, it also gets Sonnet's output ceiling: ask for the model's own limit.
    const output = await client.send(
      new ConverseCommand({
        modelId: 'google.gemma-4-it',
        messages: hello,
        inferenceConfig: { maxTokens: 500 },
      }),
    );
    const { metadata } = await expectPricedAt(
      { ...s, client, emulator },
      output,
      ratesOf(s.cycles, SONNET_46),
    );
    expect(metadata).toMatchObject({ priced_as: SONNET_46 });
  });

  it('an invalid serviceTier is refused with a typed error before sending', async () => {
    const s = await setup();
    await expect(
      s.client.send(
        new ConverseCommand({ modelId: GPT_OSS, messages: hello, serviceTier: { type: 'gold' as never } }),
      ),
    ).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    expect(s.emulator.requests.filter((request) => request.operation === 'Converse')).toHaveLength(0);
  });
});
