import {
  CountTokensCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
} from '@aws-sdk/client-bedrock-runtime';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type BedrockEmulator, startBedrockEmulator } from '../src/index.ts';
import { caught, makeClient, SONNET } from './helpers.ts';

let emulator: BedrockEmulator;
let sdk: ReturnType<typeof makeClient>;

// 30 desired tokens: families given maxTokens 20 truncate, those given 100 finish.
beforeAll(async () => {
  emulator = await startBedrockEmulator({ outputTokens: 30, chunkTokens: 8 });
  sdk = makeClient(emulator.url);
});
afterAll(() => emulator.close());
beforeEach(() => {
  emulator.reset();
  sdk.headers.length = 0;
});

const json = (value: unknown) => JSON.stringify(value);
const decode = (bytes: Uint8Array | undefined) =>
  JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;

interface FamilyCase {
  name: string;
  modelId: string;
  body: (maxTokens: number) => unknown;
  field: string;
  /** Output tokens and stop reason as the body reports them (undefined when the body has no usage). */
  read: (body: Record<string, unknown>) => { output?: number; stop: unknown };
  truncated: string;
}

const families: FamilyCase[] = [
  {
    name: 'anthropic',
    modelId: SONNET,
    body: (max) => ({
      anthropic_version: 'bedrock-2023-05-31',
      max_tokens: max,
      messages: [{ role: 'user', content: 'hello' }],
    }),
    field: 'max_tokens',
    read: (body) => ({
      output: (body.usage as { output_tokens: number }).output_tokens,
      stop: body.stop_reason,
    }),
    truncated: 'max_tokens',
  },
  {
    name: 'nova',
    modelId: 'amazon.nova-lite-v1:0',
    body: (max) => ({
      schemaVersion: 'messages-v1',
      messages: [{ role: 'user', content: [{ text: 'hello' }] }],
      inferenceConfig: { maxTokens: max },
    }),
    field: 'inferenceConfig.maxTokens',
    read: (body) => ({
      output: (body.usage as { outputTokens: number }).outputTokens,
      stop: body.stopReason,
    }),
    truncated: 'max_tokens',
  },
  {
    name: 'nova (max_new_tokens)',
    modelId: 'amazon.nova-micro-v1:0',
    body: (max) => ({
      messages: [{ role: 'user', content: [{ text: 'hello' }] }],
      inferenceConfig: { max_new_tokens: max },
    }),
    field: 'inferenceConfig.max_new_tokens',
    read: (body) => ({
      output: (body.usage as { outputTokens: number }).outputTokens,
      stop: body.stopReason,
    }),
    truncated: 'max_tokens',
  },
  {
    name: 'llama',
    modelId: 'meta.llama3-1-70b-instruct-v1:0',
    body: (max) => ({ prompt: 'hello', max_gen_len: max }),
    field: 'max_gen_len',
    read: (body) => ({ output: body.generation_token_count as number, stop: body.stop_reason }),
    truncated: 'length',
  },
  {
    name: 'mistral',
    modelId: 'mistral.mistral-large-2407-v1:0',
    body: (max) => ({ prompt: '<s>[INST] hello [/INST]', max_tokens: max }),
    field: 'max_tokens',
    read: (body) => ({ stop: (body.outputs as { stop_reason: string }[])[0]?.stop_reason }),
    truncated: 'length',
  },
  {
    name: 'titan',
    modelId: 'amazon.titan-text-express-v1',
    body: (max) => ({ inputText: 'hello', textGenerationConfig: { maxTokenCount: max } }),
    field: 'textGenerationConfig.maxTokenCount',
    read: (body) => {
      const result = (body.results as { tokenCount: number; completionReason: string }[])[0];
      return { output: result?.tokenCount, stop: result?.completionReason };
    },
    truncated: 'LENGTH',
  },
];

describe('InvokeModel per family', () => {
  it.each(families)(
    '$name: reads its max-tokens field, honours it and sets the usage headers',
    async (family) => {
      const truncated = await sdk.client.send(
        new InvokeModelCommand({
          modelId: family.modelId,
          body: json(family.body(20)),
          contentType: 'application/json',
        }),
      );
      const finished = await sdk.client.send(
        new InvokeModelCommand({ modelId: family.modelId, body: json(family.body(100)) }),
      );
      const [truncatedHeaders, finishedHeaders] = sdk.headers;
      expect(truncatedHeaders?.['x-amzn-bedrock-output-token-count']).toBe('20');
      expect(finishedHeaders?.['x-amzn-bedrock-output-token-count']).toBe('30');
      expect(Number(truncatedHeaders?.['x-amzn-bedrock-input-token-count'])).toBeGreaterThan(0);
      expect(truncatedHeaders?.['x-amzn-bedrock-invocation-latency']).toBeDefined();
      const truncatedBody = family.read(decode(truncated.body));
      const finishedBody = family.read(decode(finished.body));
      expect(truncatedBody.stop).toBe(family.truncated);
      expect(finishedBody.stop).not.toBe(family.truncated);
      if (truncatedBody.output !== undefined)
        expect([truncatedBody.output, finishedBody.output]).toEqual([20, 30]);
      expect(
        emulator.requests.map((recorded) => [
          recorded.maxTokens,
          recorded.maxTokensField,
          recorded.outputTokens,
        ]),
      ).toEqual([
        [20, family.field, 20],
        [100, family.field, 30],
      ]);
    },
  );

  it.each(families)(
    '$name: CountTokens on the InvokeModel body equals the input-token header',
    async (family) => {
      const body = new TextEncoder().encode(json(family.body(100)));
      await sdk.client.send(new InvokeModelCommand({ modelId: family.modelId, body }));
      const counted = await sdk.client.send(
        new CountTokensCommand({ modelId: family.modelId, input: { invokeModel: { body } } }),
      );
      expect(String(counted.inputTokens)).toBe(sdk.headers[0]?.['x-amzn-bedrock-input-token-count']);
    },
  );

  it.each(families)('$name: stream chunks carry invocation metrics on the last chunk', async (family) => {
    const response = await sdk.client.send(
      new InvokeModelWithResponseStreamCommand({ modelId: family.modelId, body: json(family.body(20)) }),
    );
    expect(response.contentType).toBe('application/json');
    const chunks: Record<string, unknown>[] = [];
    for await (const event of response.body ?? []) chunks.push(decode(event.chunk?.bytes));
    const metrics = chunks.at(-1)?.['amazon-bedrock-invocationMetrics'];
    expect(metrics).toMatchObject({ outputTokenCount: 20, invocationLatency: 0, firstByteLatency: 0 });
    expect(chunks.slice(0, -1).every((chunk) => !('amazon-bedrock-invocationMetrics' in chunk))).toBe(true);
    await emulator.waitForIdle();
    expect(emulator.requests[0]).toMatchObject({ stream: true, outputTokens: 20, maxTokens: 20 });
  });
});

describe('InvokeModelWithResponseStream (Anthropic)', () => {
  it('sends the Messages event sequence with cumulative usage and metrics', async () => {
    const response = await sdk.client.send(
      new InvokeModelWithResponseStreamCommand({
        modelId: `us.${SONNET}`,
        body: json({
          anthropic_version: 'bedrock-2023-05-31',
          max_tokens: 2000,
          thinking: { type: 'enabled', budget_tokens: 1024 },
          system: [{ type: 'text', text: 'y'.repeat(800), cache_control: { type: 'ephemeral' } }],
          messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
        }),
      }),
    );
    const chunks: Record<string, unknown>[] = [];
    for await (const event of response.body ?? []) chunks.push(decode(event.chunk?.bytes));
    const types = chunks.map((chunk) => chunk.type);
    expect(types[0]).toBe('message_start');
    expect(types.slice(-2)).toEqual(['message_delta', 'message_stop']);
    expect(types.filter((type) => type === 'content_block_start')).toHaveLength(2);
    const start = chunks[0]?.message as { usage: Record<string, number> };
    expect(start.usage).toMatchObject({ cache_creation_input_tokens: 200, cache_read_input_tokens: 0 });
    const delta = chunks.at(-2) as { usage: { output_tokens: number }; delta: { stop_reason: string } };
    expect(delta.usage.output_tokens).toBe(30);
    expect(delta.delta.stop_reason).toBe('end_turn');
    expect(chunks.at(-1)?.['amazon-bedrock-invocationMetrics']).toEqual({
      inputTokenCount: start.usage.input_tokens,
      outputTokenCount: 30,
      invocationLatency: 0,
      firstByteLatency: 0,
      cacheReadInputTokenCount: 0,
      cacheWriteInputTokenCount: 200,
    });
    const thinking = chunks.filter(
      (chunk) => (chunk.delta as { type?: string } | undefined)?.type === 'thinking_delta',
    );
    expect(thinking.length).toBeGreaterThan(0);
  });

  it('rejects a body without max_tokens or with max_tokens above the limit', async () => {
    const missing = await caught(
      sdk.client.send(
        new InvokeModelCommand({
          modelId: SONNET,
          body: json({ anthropic_version: 'bedrock-2023-05-31', messages: [{ role: 'user', content: 'x' }] }),
        }),
      ),
    );
    expect(missing.name).toBe('ValidationException');
    expect(missing.message).toContain('required key [max_tokens] not found');
    const tooLarge = await caught(
      sdk.client.send(
        new InvokeModelCommand({
          modelId: SONNET,
          body: json({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 64001, messages: [] }),
        }),
      ),
    );
    expect(tooLarge.name).toBe('ValidationException');
    expect(tooLarge.message).toContain('max_tokens: 64001 > 64000');
    expect(emulator.requests[1]?.maxTokens).toBe(64001);
  });
});
