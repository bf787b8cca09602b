import type { ModelFamily, TokenUsage } from '@cycles-guard/core/llm';
import { converseUsage, messagesInput, type RequestLimits, readConverse } from './converse.ts';
import { asCount, asObject, type JsonObject } from './json.ts';

/** Reads input text, max tokens and thinking budget of an InvokeModel body of `family`. */
export function readInvokeBody(family: ModelFamily, body: JsonObject): RequestLimits {
  switch (family) {
    case 'anthropic': {
      const thinking = asObject(body.thinking);
      return {
        input: messagesInput(body),
        maxTokens: asCount(body.max_tokens),
        reasoningBudgetTokens: thinking?.type === 'enabled' ? asCount(thinking.budget_tokens) : undefined,
      };
    }
    case 'nova': {
      const config = asObject(body.inferenceConfig);
      const limits = readConverse(body);
      return { ...limits, maxTokens: asCount(config?.maxTokens) ?? asCount(config?.max_new_tokens) };
    }
    case 'llama':
      return {
        input: textInput(body.prompt),
        maxTokens: asCount(body.max_gen_len),
        reasoningBudgetTokens: undefined,
      };
    case 'mistral':
      return {
        input: Array.isArray(body.messages) ? messagesInput(body) : textInput(body.prompt),
        maxTokens: asCount(body.max_tokens),
        reasoningBudgetTokens: undefined,
      };
    case 'titan':
      return {
        input: textInput(body.inputText),
        maxTokens: asCount(asObject(body.textGenerationConfig)?.maxTokenCount),
        reasoningBudgetTokens: undefined,
      };
    case 'openai':
    case 'qwen':
    case 'deepseek':
      if (Array.isArray(body.messages)) {
        return {
          input: messagesInput(body),
          maxTokens: asCount(body.max_completion_tokens) ?? asCount(body.max_tokens),
          reasoningBudgetTokens: undefined,
        };
      }
      return {
        input: textInput(body.prompt),
        maxTokens: asCount(body.max_tokens),
        reasoningBudgetTokens: undefined,
      };
    default:
      // Unknown body shapes: count every string in it, keep any common max-tokens field.
      return {
        input: textInput(JSON.stringify(body)),
        maxTokens: asCount(body.max_tokens) ?? asCount(asObject(body.inferenceConfig)?.maxTokens),
        reasoningBudgetTokens: undefined,
      };
  }
}

function textInput(prompt: unknown): RequestLimits['input'] {
  return { messages: [{ role: 'user', content: typeof prompt === 'string' ? [prompt] : [] }] };
}

/** Returns a copy of the body with the granted max tokens (and thinking budget) in the family's field. */
export function clampInvokeBody(
  family: ModelFamily,
  body: JsonObject,
  maxTokens: number,
  reasoningBudget: number | undefined,
): JsonObject {
  switch (family) {
    case 'anthropic': {
      const next: JsonObject = { ...body, max_tokens: maxTokens };
      const thinking = asObject(body.thinking);
      // Anthropic requires budget_tokens < max_tokens.
      if (thinking !== undefined && reasoningBudget !== undefined) {
        next.thinking = { ...thinking, budget_tokens: Math.min(reasoningBudget, maxTokens - 1) };
      }
      return next;
    }
    case 'nova': {
      const config = asObject(body.inferenceConfig) ?? {};
      // Older Nova examples use max_new_tokens; clamp whichever is present (maxTokens when neither).
      const field = 'max_new_tokens' in config && !('maxTokens' in config) ? 'max_new_tokens' : 'maxTokens';
      return { ...body, inferenceConfig: { ...config, [field]: maxTokens } };
    }
    case 'llama':
      return { ...body, max_gen_len: maxTokens };
    case 'titan':
      return {
        ...body,
        textGenerationConfig: { ...asObject(body.textGenerationConfig), maxTokenCount: maxTokens },
      };
    case 'openai':
    case 'qwen':
    case 'deepseek':
      // OpenAI bodies take either field; clamp the one sent (max_completion_tokens when neither is).
      return 'max_tokens' in body && !('max_completion_tokens' in body)
        ? { ...body, max_tokens: maxTokens }
        : { ...body, max_completion_tokens: maxTokens };
    default:
      return { ...body, max_tokens: maxTokens };
  }
}

/** Usage in a (non-streamed) InvokeModel response body, when the family reports it. */
export function invokeBodyUsage(family: ModelFamily, body: JsonObject | undefined): TokenUsage | undefined {
  if (body === undefined) return undefined;
  switch (family) {
    case 'anthropic':
      return anthropicUsage(body.usage);
    case 'nova':
      return converseUsage(body.usage);
    case 'llama': {
      const inputTokens = asCount(body.prompt_token_count);
      const outputTokens = asCount(body.generation_token_count);
      return inputTokens === undefined || outputTokens === undefined
        ? undefined
        : { inputTokens, outputTokens };
    }
    case 'titan': {
      const inputTokens = asCount(body.inputTextTokenCount);
      const results = Array.isArray(body.results) ? body.results : [];
      const counts = results.map((result) => asCount(asObject(result)?.tokenCount));
      if (inputTokens === undefined || counts.length === 0 || counts.some((count) => count === undefined))
        return undefined;
      return { inputTokens, outputTokens: counts.reduce<number>((sum, count) => sum + (count ?? 0), 0) };
    }
    default:
      return openaiUsage(body.usage);
  }
}

/** OpenAI chat-completions `usage` (gpt-oss, Qwen3, DeepSeek V3): `prompt_tokens` includes cached ones. */
export function openaiUsage(usage: unknown): TokenUsage | undefined {
  const object = asObject(usage);
  const prompt = asCount(object?.prompt_tokens);
  const outputTokens = asCount(object?.completion_tokens);
  if (prompt === undefined || outputTokens === undefined) return undefined;
  const cached = Math.min(prompt, asCount(asObject(object?.prompt_tokens_details)?.cached_tokens) ?? 0);
  return cached > 0
    ? { inputTokens: prompt - cached, outputTokens, cacheReadInputTokens: cached }
    : { inputTokens: prompt, outputTokens };
}

/** Anthropic `usage` (snake_case, cache fields optional). */
export function anthropicUsage(usage: unknown): TokenUsage | undefined {
  const object = asObject(usage);
  const inputTokens = asCount(object?.input_tokens);
  const outputTokens = asCount(object?.output_tokens);
  if (object === undefined || inputTokens === undefined || outputTokens === undefined) return undefined;
  const cacheRead = asCount(object.cache_read_input_tokens);
  const cacheWrite = asCount(object.cache_creation_input_tokens);
  // `cache_creation` splits the writes by TTL.
  const oneHour = asCount(asObject(object.cache_creation)?.ephemeral_1h_input_tokens);
  return {
    inputTokens,
    outputTokens,
    ...(cacheRead === undefined ? {} : { cacheReadInputTokens: cacheRead }),
    ...(cacheWrite === undefined ? {} : { cacheWriteInputTokens: cacheWrite }),
    ...(oneHour === undefined ? {} : { cacheWrite1hInputTokens: oneHour }),
  };
}

/** Bedrock's `amazon-bedrock-invocationMetrics` (last chunk of every Invoke stream). */
export function invocationMetricsUsage(chunk: JsonObject): TokenUsage | undefined {
  const metrics = asObject(chunk['amazon-bedrock-invocationMetrics']);
  const inputTokens = asCount(metrics?.inputTokenCount);
  const outputTokens = asCount(metrics?.outputTokenCount);
  if (metrics === undefined || inputTokens === undefined || outputTokens === undefined) return undefined;
  const cacheRead = asCount(metrics.cacheReadInputTokenCount);
  const cacheWrite = asCount(metrics.cacheWriteInputTokenCount);
  return {
    inputTokens,
    outputTokens,
    ...(cacheRead === undefined ? {} : { cacheReadInputTokens: cacheRead }),
    ...(cacheWrite === undefined ? {} : { cacheWriteInputTokens: cacheWrite }),
  };
}

/** Usage from the `x-amzn-bedrock-*-token-count` response headers (every family). */
export function headerUsage(headers: Record<string, string | undefined>): TokenUsage | undefined {
  const count = (name: string) => {
    const value = headers[name];
    const parsed = value === undefined ? Number.NaN : Number(value);
    return Number.isSafeInteger(parsed) && parsed >= 0 ? parsed : undefined;
  };
  const inputTokens = count('x-amzn-bedrock-input-token-count');
  const outputTokens = count('x-amzn-bedrock-output-token-count');
  if (inputTokens === undefined || outputTokens === undefined) return undefined;
  const cacheRead = count('x-amzn-bedrock-cache-read-input-token-count');
  const cacheWrite = count('x-amzn-bedrock-cache-write-input-token-count');
  return {
    inputTokens,
    outputTokens,
    ...(cacheRead === undefined ? {} : { cacheReadInputTokens: cacheRead }),
    ...(cacheWrite === undefined ? {} : { cacheWriteInputTokens: cacheWrite }),
  };
}
