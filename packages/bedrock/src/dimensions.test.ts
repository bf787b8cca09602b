import { describe, expect, it } from 'vitest';
import { requestDimensions } from './dimensions.ts';
import { converseUsage } from './wire/converse.ts';
import { anthropicUsage, clampInvokeBody, openaiUsage, readInvokeBody } from './wire/invoke-bodies.ts';

describe('requestDimensions', () => {
  it('reads the Converse tier object, the InvokeModel tier string, 1-hour cache points and the region', () => {
    expect(requestDimensions({ messages: [] }, undefined, undefined)).toBeUndefined();
    expect(requestDimensions({ serviceTier: { type: 'priority' } }, undefined, undefined)).toEqual({
      serviceTier: 'priority',
    });
    expect(requestDimensions({ serviceTier: 'flex' }, { messages: [] }, 'eu-west-2')).toEqual({
      serviceTier: 'flex',
      region: 'eu-west-2',
    });
    const converse = {
      messages: [{ role: 'user', content: [{ text: 'a' }, { cachePoint: { type: 'default', ttl: '1h' } }] }],
    };
    expect(requestDimensions(converse, undefined, undefined)).toEqual({ cacheTtl: '1h' });
    const anthropic = {
      system: [{ type: 'text', text: 's', cache_control: { type: 'ephemeral', ttl: '1h' } }],
    };
    expect(requestDimensions({}, anthropic, undefined)).toEqual({ cacheTtl: '1h' });
    const tools = { toolConfig: { tools: [{ cachePoint: { type: 'default', ttl: '5m' } }] } };
    expect(requestDimensions(tools, undefined, undefined)).toBeUndefined();
  });
});

describe('usage by TTL and family', () => {
  it('takes the 1-hour cache writes from Converse cacheDetails and Anthropic cache_creation', () => {
    expect(
      converseUsage({
        inputTokens: 5,
        outputTokens: 7,
        cacheWriteInputTokens: 30,
        cacheDetails: [
          { ttl: '1h', inputTokens: 20 },
          { ttl: '5m', inputTokens: 10 },
        ],
      }),
    ).toEqual({ inputTokens: 5, outputTokens: 7, cacheWriteInputTokens: 30, cacheWrite1hInputTokens: 20 });
    expect(
      anthropicUsage({
        input_tokens: 5,
        output_tokens: 7,
        cache_creation_input_tokens: 30,
        cache_creation: { ephemeral_5m_input_tokens: 30, ephemeral_1h_input_tokens: 0 },
      }),
    ).toEqual({ inputTokens: 5, outputTokens: 7, cacheWriteInputTokens: 30, cacheWrite1hInputTokens: 0 });
  });

  it('reads OpenAI chat-completions usage, cached prompt tokens as cache reads', () => {
    expect(openaiUsage({ prompt_tokens: 10, completion_tokens: 3 })).toEqual({
      inputTokens: 10,
      outputTokens: 3,
    });
    expect(
      openaiUsage({ prompt_tokens: 10, completion_tokens: 3, prompt_tokens_details: { cached_tokens: 4 } }),
    ).toEqual({ inputTokens: 6, outputTokens: 3, cacheReadInputTokens: 4 });
    expect(openaiUsage({ prompt_tokens: 10 })).toBeUndefined();
  });

  it('reads and clamps the max tokens field an OpenAI body sends', () => {
    const body = { messages: [{ role: 'user', content: 'hi' }], max_completion_tokens: 900 };
    expect(readInvokeBody('openai', body).maxTokens).toBe(900);
    expect(clampInvokeBody('openai', body, 100, undefined)).toEqual({ ...body, max_completion_tokens: 100 });
    const legacy = { messages: [], max_tokens: 900 };
    expect(clampInvokeBody('qwen', legacy, 100, undefined)).toEqual({ messages: [], max_tokens: 100 });
    expect(clampInvokeBody('deepseek', { messages: [] }, 100, undefined)).toEqual({
      messages: [],
      max_completion_tokens: 100,
    });
  });
});
