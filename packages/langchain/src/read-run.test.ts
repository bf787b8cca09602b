import { AIMessage, HumanMessage, SystemMessage, ToolMessage } from '@langchain/core/messages';
import { describe, expect, it } from 'vitest';
import {
  messagesInput,
  modelIdOf,
  reasoningBudget,
  requestedMaxTokens,
  turnOf,
  usageOf,
} from './read-run.ts';

describe('reading LangChain runs', () => {
  it('estimates from system prompts, turns, tool calls and tool specs', () => {
    const input = messagesInput(
      [
        new SystemMessage('Be terse.'),
        new HumanMessage('Look it up.'),
        new AIMessage({ content: '', tool_calls: [{ id: 't1', name: 'lookup', args: { q: 'x' } }] }),
        new ToolMessage({ content: 'found', tool_call_id: 't1' }),
      ],
      { toolConfig: { tools: [{ toolSpec: { name: 'lookup' } }] } },
    );
    expect(input.system).toEqual(['Be terse.']);
    expect(input.messages?.map((message) => message.role)).toEqual(['human', 'ai', 'tool']);
    expect(input.messages?.[1]?.content.join('')).toContain('lookup');
    expect(input.tools).toEqual([JSON.stringify({ toolSpec: { name: 'lookup' } })]);
  });

  it('reads max tokens and thinking budgets from Bedrock and common invocation params', () => {
    expect(requestedMaxTokens({ inferenceConfig: { maxTokens: 300 } })).toBe(300);
    expect(requestedMaxTokens({ max_tokens: 200 })).toBe(200);
    expect(requestedMaxTokens({ maxTokens: -1 })).toBeUndefined();
    expect(requestedMaxTokens(undefined)).toBeUndefined();
    expect(
      reasoningBudget({
        additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 2048 } },
      }),
    ).toBe(2048);
    expect(
      reasoningBudget({ additionalModelRequestFields: { thinking: { type: 'disabled' } } }),
    ).toBeUndefined();
    expect(
      reasoningBudget({
        additionalModelRequestFields: { reasoningConfig: { type: 'enabled', budgetTokens: 1024 } },
      }),
    ).toBe(1024);
  });

  it('finds the model id and the LangGraph step', () => {
    expect(modelIdOf({ lc: 1, type: 'not_implemented', id: [] }, { ls_model_name: 'a.b' })).toBe('a.b');
    expect(modelIdOf({ lc: 1, type: 'constructor', id: [], kwargs: { model: 'c.d' } }, {})).toBe('c.d');
    expect(modelIdOf({ lc: 1, type: 'not_implemented', id: [] }, undefined)).toBeUndefined();
    expect(turnOf({ langgraph_step: 3 })).toBe(3);
    expect(turnOf({})).toBeUndefined();
  });

  it('splits cache reads and writes out of usage_metadata input tokens; falls back to llmOutput', () => {
    const message = new AIMessage({
      content: 'x',
      usage_metadata: {
        input_tokens: 100,
        output_tokens: 7,
        total_tokens: 107,
        input_token_details: { cache_read: 60, cache_creation: 30 },
      },
    });
    expect(usageOf({ generations: [[{ text: 'x', message } as never]] })).toEqual({
      inputTokens: 10,
      outputTokens: 7,
      cacheReadInputTokens: 60,
      cacheWriteInputTokens: 30,
    });
    expect(
      usageOf({
        generations: [[{ text: 'x' }]],
        llmOutput: { tokenUsage: { promptTokens: 5, completionTokens: 6 } },
      }),
    ).toEqual({ inputTokens: 5, outputTokens: 6 });
    expect(usageOf({ generations: [[{ text: 'x' }]] })).toBeUndefined();
  });
});
