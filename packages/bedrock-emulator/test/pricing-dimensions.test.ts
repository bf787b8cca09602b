import { BedrockClient, GetInferenceProfileCommand } from '@aws-sdk/client-bedrock';
import {
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
} from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type BedrockEmulator, startBedrockEmulator } from '../src/index.ts';
import { caught, makeClient, userMessage } from './helpers.ts';

const SONNET_46 = 'anthropic.claude-sonnet-4-6';
const GPT_OSS = 'openai.gpt-oss-120b-1:0';
const PROFILE = 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6';

let emulator: BedrockEmulator;
beforeAll(async () => {
  emulator = await startBedrockEmulator({
    outputTokens: 12,
    inferenceProfiles: { [PROFILE]: `us.${SONNET_46}`, b2c3d4e5f6a1: GPT_OSS },
  });
});
afterAll(() => emulator.close());
beforeEach(() => emulator.reset());

const decoder = new TextDecoder();
const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe('the current models', () => {
  it.each([
    SONNET_46,
    'global.anthropic.claude-opus-4-6-v1',
    'jp.anthropic.claude-sonnet-4-6',
    'anthropic.claude-opus-5-5',
    'amazon.nova-2-lite-v1:0',
    GPT_OSS,
    'us.deepseek.r1-v1:0',
    'qwen.qwen3-32b-v1:0',
    'google.gemma-3-27b-it',
  ])('answers Converse for %s', async (modelId) => {
    const { client } = makeClient(emulator.url);
    const output = await client.send(new ConverseCommand({ modelId, messages: [userMessage('hello')] }));
    expect(output.usage?.outputTokens).toBe(12);
  });
});

describe('serviceTier', () => {
  it('is accepted on Converse and echoed, streamed or not, and recorded', async () => {
    const { client } = makeClient(emulator.url);
    const output = await client.send(
      new ConverseCommand({
        modelId: GPT_OSS,
        messages: [userMessage('hi')],
        serviceTier: { type: 'priority' },
      }),
    );
    expect(output.serviceTier).toEqual({ type: 'priority' });
    const stream = await client.send(
      new ConverseStreamCommand({
        modelId: GPT_OSS,
        messages: [userMessage('hi')],
        serviceTier: { type: 'flex' },
      }),
    );
    let tier: unknown;
    for await (const event of stream.stream ?? []) if (event.metadata) tier = event.metadata.serviceTier;
    expect(tier).toEqual({ type: 'flex' });
    expect(emulator.requests.map((request) => request.serviceTier)).toEqual(['priority', 'flex']);
  });

  it('is read from InvokeModel and echoed in the response header', async () => {
    const { client, headers } = makeClient(emulator.url);
    const output = await client.send(
      new InvokeModelCommand({
        modelId: GPT_OSS,
        body: encode({ messages: [{ role: 'user', content: 'hi' }], max_completion_tokens: 50 }),
        serviceTier: 'priority',
      }),
    );
    expect(output.serviceTier).toBe('priority');
    expect(headers[0]?.['x-amzn-bedrock-service-tier']).toBe('priority');
    expect(emulator.requests[0]?.serviceTier).toBe('priority');
  });

  it('rejects an unknown tier with a ValidationException', async () => {
    const { client } = makeClient(emulator.url);
    const error = await caught(
      client.send(
        new ConverseCommand({
          modelId: GPT_OSS,
          messages: [userMessage('hi')],
          serviceTier: { type: 'gold' as never },
        }),
      ),
    );
    expect(error.name).toBe('ValidationException');
  });
});

describe('usage per family', () => {
  it('reports OpenAI chat-completions usage for gpt-oss, streamed and not', async () => {
    const { client } = makeClient(emulator.url);
    const body = encode({ messages: [{ role: 'user', content: 'count me' }], max_completion_tokens: 100 });
    const output = await client.send(new InvokeModelCommand({ modelId: GPT_OSS, body }));
    const json = JSON.parse(decoder.decode(output.body));
    expect(json.usage).toEqual({ prompt_tokens: 6, completion_tokens: 12, total_tokens: 18 });
    expect(json.choices[0].message.content.length).toBeGreaterThan(0);
    const stream = await client.send(new InvokeModelWithResponseStreamCommand({ modelId: GPT_OSS, body }));
    const chunks: Record<string, unknown>[] = [];
    for await (const event of stream.body ?? []) {
      if (event.chunk?.bytes) chunks.push(JSON.parse(decoder.decode(event.chunk.bytes)));
    }
    const last = chunks.at(-1) as {
      usage: unknown;
      'amazon-bedrock-invocationMetrics': { outputTokenCount: number };
    };
    expect(last.usage).toEqual({ prompt_tokens: 6, completion_tokens: 12, total_tokens: 18 });
    expect(last['amazon-bedrock-invocationMetrics'].outputTokenCount).toBe(12);
  });

  it('splits cache writes by TTL: Converse cacheDetails and Anthropic cache_creation', async () => {
    const { client } = makeClient(emulator.url);
    const long = 'x'.repeat(400);
    const converse = await client.send(
      new ConverseCommand({
        modelId: SONNET_46,
        system: [{ text: long }, { cachePoint: { type: 'default', ttl: '1h' } }],
        messages: [userMessage('hi')],
      }),
    );
    expect(converse.usage?.cacheWriteInputTokens).toBe(100);
    expect(converse.usage?.cacheDetails).toEqual([{ ttl: '1h', inputTokens: 100 }]);
    const invoke = await client.send(
      new InvokeModelCommand({
        modelId: SONNET_46,
        body: encode({
          anthropic_version: 'bedrock-2023-05-31',
          max_tokens: 100,
          system: [{ type: 'text', text: `${long}y`, cache_control: { type: 'ephemeral' } }],
          messages: [{ role: 'user', content: 'hi' }],
        }),
      }),
    );
    const usage = JSON.parse(decoder.decode(invoke.body)).usage;
    expect(usage.cache_creation).toEqual({ ephemeral_5m_input_tokens: 101, ephemeral_1h_input_tokens: 0 });
    expect(emulator.requests.map((request) => request.cacheWrite1hInputTokens)).toEqual([100, 0]);
  });
});

describe('application inference profiles', () => {
  const control = () =>
    new BedrockClient({
      region: 'us-east-1',
      endpoint: emulator.url,
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' },
      requestHandler: new NodeHttpHandler(),
      maxAttempts: 1,
    });

  it('answers GetInferenceProfile through the real control-plane client', async () => {
    const profile = await control().send(
      new GetInferenceProfileCommand({ inferenceProfileIdentifier: PROFILE }),
    );
    expect(profile).toMatchObject({
      inferenceProfileArn: PROFILE,
      inferenceProfileId: 'a1b2c3d4e5f6',
      type: 'APPLICATION',
      status: 'ACTIVE',
      models: [{ modelArn: `arn:aws:bedrock:us-east-1::foundation-model/${SONNET_46}` }],
    });
    const byId = await control().send(
      new GetInferenceProfileCommand({ inferenceProfileIdentifier: 'b2c3d4e5f6a1' }),
    );
    expect(byId.models?.[0]?.modelArn).toBe(`arn:aws:bedrock:us-east-1::foundation-model/${GPT_OSS}`);
    const missing = await caught(
      control().send(new GetInferenceProfileCommand({ inferenceProfileIdentifier: 'nope' })),
    );
    expect(missing.name).toBe('ResourceNotFoundException');
  });

  it('runs a profile ARN given as the runtime modelId', async () => {
    const { client } = makeClient(emulator.url);
    await client.send(new ConverseCommand({ modelId: PROFILE, messages: [userMessage('hi')] }));
    expect(emulator.requests[0]?.resolvedModelId).toBe(SONNET_46);
  });
});
