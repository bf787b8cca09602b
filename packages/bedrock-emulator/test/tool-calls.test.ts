import {
  ConverseCommand,
  type ConverseCommandInput,
  ConverseStreamCommand,
  type Message,
} from '@aws-sdk/client-bedrock-runtime';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type BedrockEmulator,
  converseSegments,
  countInputTokens,
  countTextTokens,
  sampleOfSchema,
  startBedrockEmulator,
} from '../src/index.ts';
import { makeClient, SONNET, userMessage } from './helpers.ts';

const weatherSchema = {
  type: 'object',
  properties: {
    city: { type: 'string' },
    days: { type: 'integer', minimum: 2 },
    unit: { enum: ['celsius', 'fahrenheit'] },
    note: { type: 'string' },
  },
  required: ['city', 'days', 'unit'],
};

const request = (messages: Message[] = [userMessage('Weather in Lisbon?')]): ConverseCommandInput => ({
  modelId: SONNET,
  messages,
  inferenceConfig: { maxTokens: 500 },
  toolConfig: {
    tools: [
      { toolSpec: { name: 'search', inputSchema: { json: { type: 'object', properties: {} } } } },
      { toolSpec: { name: 'getWeather', inputSchema: { json: weatherSchema } } },
    ],
  },
});

let emulator: BedrockEmulator | undefined;
afterEach(() => emulator?.close());

async function start(toolCalls: Parameters<typeof startBedrockEmulator>[0]) {
  emulator = await startBedrockEmulator({ outputTokens: 20, ...toolCalls });
  return makeClient(emulator.url).client;
}

describe('tool calls', () => {
  it('fills a schema with required fields only, honouring enum and minimum', () => {
    expect(sampleOfSchema(weatherSchema)).toEqual({ city: 'budgets', days: 2, unit: 'celsius' });
    expect(sampleOfSchema({ anyOf: [{ type: 'array', items: { type: 'number' }, minItems: 1 }] })).toEqual([
      1,
    ]);
  });

  it('answers a request offering tools with a toolUse block and counts it as output', async () => {
    const client = await start({ toolCalls: { tool: 'getWeather' } });
    const response = await client.send(new ConverseCommand(request()));
    const content = response.output?.message?.content ?? [];
    const toolUse = content.find((block) => block.toolUse !== undefined)?.toolUse;
    expect(response.stopReason).toBe('tool_use');
    expect(toolUse).toMatchObject({
      name: 'getWeather',
      input: { city: 'budgets', days: 2, unit: 'celsius' },
    });
    const toolTokens = countTextTokens(JSON.stringify({ name: 'getWeather', input: toolUse?.input }));
    expect(response.usage?.outputTokens).toBe(20 + toolTokens);
    expect(emulator?.requests[0]?.outputTokens).toBe(20 + toolTokens);
  });

  it('stops calling tools after `turns` assistant turns, and counts the returned call as input', async () => {
    const client = await start({ toolCalls: { turns: 1, input: (turn) => ({ turn }) } });
    const first = await client.send(new ConverseCommand(request()));
    const call = first.output?.message?.content?.find((block) => block.toolUse)?.toolUse;
    expect(call).toMatchObject({ name: 'search', input: { turn: 0 } });
    const followUp = request([
      userMessage('Weather in Lisbon?'),
      first.output?.message as Message,
      {
        role: 'user',
        content: [{ toolResult: { toolUseId: call?.toolUseId, content: [{ text: 'sunny' }] } }],
      },
    ]);
    const second = await client.send(new ConverseCommand(followUp));
    expect(second.stopReason).toBe('end_turn');
    expect(second.output?.message?.content?.some((block) => block.toolUse)).toBe(false);
    expect(second.usage?.inputTokens).toBe(countInputTokens(converseSegments(followUp)));
  });

  it('streams the call as contentBlockStart / toolUse delta / contentBlockStop with stop reason tool_use', async () => {
    const client = await start({ toolCalls: true });
    const response = await client.send(new ConverseStreamCommand(request()));
    let toolName: string | undefined;
    let inputJson = '';
    let stopReason: string | undefined;
    let outputTokens: number | undefined;
    for await (const event of response.stream ?? []) {
      toolName ??= event.contentBlockStart?.start?.toolUse?.name;
      inputJson += event.contentBlockDelta?.delta?.toolUse?.input ?? '';
      stopReason ??= event.messageStop?.stopReason;
      outputTokens ??= event.metadata?.usage?.outputTokens;
    }
    expect(toolName).toBe('search');
    expect(JSON.parse(inputJson)).toEqual({});
    expect(stopReason).toBe('tool_use');
    expect(outputTokens).toBe(20 + countTextTokens(JSON.stringify({ name: 'search', input: {} })));
  });

  it('answers in text when the call does not fit maxTokens, or no tools are offered', async () => {
    const client = await start({ toolCalls: { tool: 'getWeather' } });
    const tight = await client.send(new ConverseCommand({ ...request(), inferenceConfig: { maxTokens: 3 } }));
    expect(tight.stopReason).toBe('max_tokens');
    expect(tight.usage?.outputTokens).toBe(3);
    const { toolConfig: _omitted, ...plain } = request();
    const noTools = await client.send(new ConverseCommand(plain));
    expect(noTools.stopReason).toBe('end_turn');
  });
});
