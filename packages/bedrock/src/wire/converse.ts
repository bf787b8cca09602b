import type { EstimateInput, TokenUsage } from '@cycles-guard/core/llm';
import { appendTexts, asCount, asObject, type JsonObject, textsOf } from './json.ts';

/** What the guard reads from a Converse-shaped request (Converse, ConverseStream, Nova bodies). */
export interface RequestLimits {
  input: EstimateInput;
  maxTokens: number | undefined;
  reasoningBudgetTokens: number | undefined;
}

/** Estimate input of messages-style requests (`system: [{text}]`, `messages: [{role, content}]`, tools). */
export function messagesInput(request: JsonObject): EstimateInput {
  let system: string[];
  if (Array.isArray(request.system)) {
    system = [];
    for (let index = 0; index < request.system.length; index++)
      appendTexts(system, request.system[index], `system[${index}]`);
  } else system = textsOf(request.system, 'system');
  const messages = Array.isArray(request.messages)
    ? request.messages.map((message, index) => {
        const object = asObject(message) ?? {};
        return {
          role: String(object.role ?? 'user'),
          content: textsOf(object.content, `messages[${index}].content`),
        };
      })
    : [];
  const toolConfig = asObject(request.toolConfig);
  const toolList = Array.isArray(toolConfig?.tools)
    ? toolConfig.tools
    : Array.isArray(request.tools)
      ? request.tools
      : [];
  const tools = toolList.map((tool) => JSON.stringify(tool));
  return { system, messages, ...(tools.length > 0 ? { tools } : {}) };
}

/** Thinking budget of `additionalModelRequestFields` (Anthropic `thinking` or `reasoning_config`/`reasoningConfig`). */
function thinkingBudget(fields: JsonObject | undefined): number | undefined {
  const thinking = asObject(fields?.thinking);
  if (thinking !== undefined && thinking.type !== 'disabled') return asCount(thinking.budget_tokens);
  const reasoning = asObject(fields?.reasoning_config) ?? asObject(fields?.reasoningConfig);
  if (reasoning !== undefined && reasoning.type !== 'disabled') {
    return asCount(reasoning.budget_tokens) ?? asCount(reasoning.budgetTokens);
  }
  return undefined;
}

/** Reads the limits of a Converse / ConverseStream input. */
export function readConverse(input: JsonObject): RequestLimits {
  return {
    input: messagesInput(input),
    maxTokens: asCount(asObject(input.inferenceConfig)?.maxTokens),
    reasoningBudgetTokens: thinkingBudget(asObject(input.additionalModelRequestFields)),
  };
}

/**
 * The Converse input with the granted limits applied: a copy, or `input` itself when it already asks
 * for exactly the grant and no thinking budget (the common uncapped call: the SDK then serializes an
 * object of the caller's own shape, and nothing is copied). `input` is never changed.
 */
export function clampConverse(
  input: JsonObject,
  maxTokens: number,
  reasoningBudget: number | undefined,
): JsonObject {
  if (reasoningBudget === undefined && asObject(input.inferenceConfig)?.maxTokens === maxTokens) return input;
  const next: JsonObject = { ...input, inferenceConfig: { ...asObject(input.inferenceConfig), maxTokens } };
  const fields = asObject(input.additionalModelRequestFields);
  if (fields !== undefined && reasoningBudget !== undefined) {
    const copy: JsonObject = { ...fields };
    const thinking = asObject(fields.thinking);
    if (thinking !== undefined && 'budget_tokens' in thinking)
      copy.thinking = { ...thinking, budget_tokens: reasoningBudget };
    for (const key of ['reasoning_config', 'reasoningConfig']) {
      const reasoning = asObject(fields[key]);
      if (reasoning === undefined) continue;
      const field = 'budget_tokens' in reasoning ? 'budget_tokens' : 'budgetTokens';
      if (field in reasoning) copy[key] = { ...reasoning, [field]: reasoningBudget };
    }
    next.additionalModelRequestFields = copy;
  }
  return next;
}

/** Converse `TokenUsage` (camelCase; also Nova's `…TokenCount` cache fields) to core usage. */
export function converseUsage(usage: unknown): TokenUsage | undefined {
  const object = asObject(usage);
  const inputTokens = asCount(object?.inputTokens);
  const outputTokens = asCount(object?.outputTokens);
  if (object === undefined || inputTokens === undefined || outputTokens === undefined) return undefined;
  const cacheRead = asCount(object.cacheReadInputTokens) ?? asCount(object.cacheReadInputTokenCount);
  const cacheWrite = asCount(object.cacheWriteInputTokens) ?? asCount(object.cacheWriteInputTokenCount);
  const result: TokenUsage = { inputTokens, outputTokens };
  if (cacheRead !== undefined) result.cacheReadInputTokens = cacheRead;
  if (cacheWrite !== undefined) result.cacheWriteInputTokens = cacheWrite;
  // `cacheDetails` splits cache writes by TTL: the 1-hour ones bill at the 1-hour write rate.
  if (Array.isArray(object.cacheDetails)) {
    let oneHour = 0;
    for (const detail of object.cacheDetails) {
      const entry = asObject(detail);
      if (entry?.ttl === '1h') oneHour += asCount(entry.inputTokens) ?? 0;
    }
    result.cacheWrite1hInputTokens = oneHour;
  }
  return result;
}
