import {
  ConverseCommand,
  type ConverseCommandInput,
  ConverseStreamCommand,
  type ConverseStreamOutput,
  CountTokensCommand,
} from '@aws-sdk/client-bedrock-runtime';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type BedrockEmulator,
  converseSegments,
  countInputTokens,
  startBedrockEmulator,
} from '../src/index.ts';
import { caught, makeClient, SONNET, userMessage } from './helpers.ts';

let emulator: BedrockEmulator;
let client: ReturnType<typeof makeClient>['client'];

beforeAll(async () => {
  emulator = await startBedrockEmulator({ seed: 42 });
  client = makeClient(emulator.url).client;
});
afterAll(() => emulator.close());
beforeEach(() => emulator.reset());

const request = (overrides: Partial<ConverseCommandInput> = {}): ConverseCommandInput => ({
  modelId: SONNET,
  system: [{ text: 'You are terse.' }],
  messages: [userMessage('Tell me about budgets, please.')],
  inferenceConfig: { maxTokens: 1000 },
  ...overrides,
});

describe('Converse', () => {
  it('answers with Bedrock shapes and the token rule', async () => {
    const response = await client.send(new ConverseCommand(request()));
    const expectedInput = countInputTokens(converseSegments(request()));
    expect(response.$metadata.httpStatusCode).toBe(200);
    expect(response.output?.message?.role).toBe('assistant');
    expect(typeof response.output?.message?.content?.[0]?.text).toBe('string');
    expect(response.stopReason).toBe('end_turn');
    expect(response.usage?.inputTokens).toBe(expectedInput);
    expect(response.usage?.totalTokens).toBe(expectedInput + (response.usage?.outputTokens ?? 0));
    expect(response.metrics?.latencyMs).toBeTypeOf('number');
    // Each word is one token.
    const words = response.output?.message?.content?.[0]?.text?.split(' ') ?? [];
    expect(words).toHaveLength(response.usage?.outputTokens ?? -1);
    // Deterministic: the same request gets the same answer.
    const again = await client.send(new ConverseCommand(request()));
    expect(again.output).toEqual(response.output);
    await emulator.waitForIdle();
    expect(emulator.requests[0]).toMatchObject({
      operation: 'Converse',
      modelId: SONNET,
      resolvedModelId: SONNET,
      maxTokens: 1000,
      maxTokensField: 'inferenceConfig.maxTokens',
      inputTokens: expectedInput,
      outputTokens: response.usage?.outputTokens,
      stream: false,
      aborted: false,
      status: 200,
    });
    expect(emulator.requests[0]?.completedAt).toBeInstanceOf(Date);
  });

  it('honours maxTokens exactly and reports max_tokens', async () => {
    const local = await startBedrockEmulator({ outputTokens: 5000 });
    try {
      const { client: localClient } = makeClient(local.url);
      const response = await localClient.send(
        new ConverseCommand(request({ inferenceConfig: { maxTokens: 37 } })),
      );
      expect(response.usage?.outputTokens).toBe(37);
      expect(response.stopReason).toBe('max_tokens');
    } finally {
      await local.close();
    }
  });

  it('takes the output length from an outputTokens function', async () => {
    const local = await startBedrockEmulator({ outputTokens: (received) => received.inputTokens * 2 });
    try {
      const { client: localClient } = makeClient(local.url);
      const response = await localClient.send(new ConverseCommand(request()));
      expect(response.usage?.outputTokens).toBe((response.usage?.inputTokens ?? 0) * 2);
    } finally {
      await local.close();
    }
  });

  it('CountTokens equals the usage inputTokens of the same request', async () => {
    const input = request({
      toolConfig: { tools: [{ toolSpec: { name: 'x', inputSchema: { json: {} } } }] },
    });
    const counted = await client.send(
      new CountTokensCommand({
        modelId: SONNET,
        input: { converse: { messages: input.messages, system: input.system, toolConfig: input.toolConfig } },
      }),
    );
    const response = await client.send(new ConverseCommand(input));
    expect(counted.inputTokens).toBe(response.usage?.inputTokens);
  });

  it('accepts inference profiles and ARNs, resolving them to the base model', async () => {
    for (const modelId of [
      `us.${SONNET}`,
      `global.${SONNET}`,
      `arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.${SONNET}`,
      `arn:aws:bedrock:us-east-1::foundation-model/${SONNET}`,
    ]) {
      await client.send(new ConverseCommand(request({ modelId })));
    }
    expect(emulator.requests.map((recorded) => recorded.resolvedModelId)).toEqual(Array(4).fill(SONNET));
    expect(emulator.requests[2]?.modelId).toBe(
      `arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.${SONNET}`,
    );
  });

  it('rejects unknown and malformed model ids like Bedrock', async () => {
    const notFound = await caught(
      client.send(new ConverseCommand(request({ modelId: 'anthropic.claude-9-v1:0' }))),
    );
    expect(notFound.name).toBe('ResourceNotFoundException');
    expect(notFound.$metadata?.httpStatusCode).toBe(404);
    const invalid = await caught(client.send(new ConverseCommand(request({ modelId: 'sonnet' }))));
    expect(invalid.name).toBe('ValidationException');
    expect(invalid.message).toBe('The provided model identifier is invalid.');
  });

  it('rejects maxTokens above the model limit and conversations without a user message', async () => {
    const tooLarge = await caught(
      client.send(new ConverseCommand(request({ inferenceConfig: { maxTokens: 64001 } }))),
    );
    expect(tooLarge.name).toBe('ValidationException');
    expect(tooLarge.message).toContain('exceeds the model limit of 64000');
    const empty = await caught(client.send(new ConverseCommand(request({ messages: [] }))));
    expect(empty.name).toBe('ValidationException');
    expect(emulator.requests.map((recorded) => recorded.status)).toEqual([400, 400]);
  });

  it('reports cache writes then reads for cachePoint prefixes', async () => {
    const cached = request({
      system: [{ text: 'x'.repeat(4000) }, { cachePoint: { type: 'default' } }],
    });
    const first = await client.send(new ConverseCommand(cached));
    const second = await client.send(new ConverseCommand(cached));
    expect(first.usage).toMatchObject({ cacheWriteInputTokens: 1000, cacheReadInputTokens: 0 });
    expect(second.usage).toMatchObject({ cacheWriteInputTokens: 0, cacheReadInputTokens: 1000 });
    expect(second.usage?.inputTokens).toBe(countInputTokens(converseSegments(cached)) - 1000);
    expect(emulator.requests[1]).toMatchObject({ cacheReadInputTokens: 1000, cacheWriteInputTokens: 0 });
  });

  it('emits reasoning inside the output tokens when thinking is enabled', async () => {
    const response = await client.send(
      new ConverseCommand(
        request({
          inferenceConfig: { maxTokens: 2000 },
          additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 1024 } },
        }),
      ),
    );
    const [reasoning, text] = response.output?.message?.content ?? [];
    const reasoningWords = reasoning?.reasoningContent?.reasoningText?.text?.split(' ').length ?? 0;
    const textWords = text?.text ? text.text.split(' ').length : 0;
    expect(reasoningWords).toBeGreaterThan(0);
    expect(reasoningWords + textWords).toBe(response.usage?.outputTokens);
    expect(response.usage?.outputTokens).toBeLessThanOrEqual(2000);
  });
});

describe('ConverseStream', () => {
  it('streams messageStart, deltas of at most 16 tokens, stops and metadata', async () => {
    const response = await client.send(new ConverseStreamCommand(request()));
    const events: ConverseStreamOutput[] = [];
    for await (const event of response.stream ?? []) events.push(event);
    const kinds = events.map((event) => Object.keys(event).find((key) => key !== '$unknown'));
    expect(kinds[0]).toBe('messageStart');
    expect(kinds.slice(-3)).toEqual(['contentBlockStop', 'messageStop', 'metadata']);
    const deltas = events.flatMap((event) =>
      event.contentBlockDelta?.delta?.text ? [event.contentBlockDelta.delta.text] : [],
    );
    expect(deltas.length).toBeGreaterThan(1);
    const text = deltas.join('');
    const metadata = events.at(-1)?.metadata;
    expect(text.split(' ')).toHaveLength(metadata?.usage?.outputTokens ?? -1);
    for (const delta of deltas) expect(delta.trim().split(' ').length).toBeLessThanOrEqual(16);
    const nonStream = await client.send(new ConverseCommand(request()));
    expect(text).toBe(nonStream.output?.message?.content?.[0]?.text);
    expect(metadata?.usage).toEqual(nonStream.usage);
    await emulator.waitForIdle();
    expect(emulator.requests[0]).toMatchObject({ operation: 'ConverseStream', stream: true, aborted: false });
    expect(emulator.requests[0]?.outputTokens).toBe(metadata?.usage?.outputTokens);
  });

  it('streams reasoning deltas before the text block', async () => {
    const response = await client.send(
      new ConverseStreamCommand(
        request({
          inferenceConfig: { maxTokens: 1100 },
          additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 1024 } },
        }),
      ),
    );
    const events: ConverseStreamOutput[] = [];
    for await (const event of response.stream ?? []) events.push(event);
    expect(events[1]?.contentBlockDelta?.delta?.reasoningContent?.text).toBeTypeOf('string');
    expect(events.some((event) => event.contentBlockDelta?.contentBlockIndex === 1)).toBe(true);
  });
});
