import type { LanguageModelV3Usage } from '@ai-sdk/provider';
import type { TokenUsage } from '@cycles-guard/core/llm';

/**
 * Core usage from the AI SDK's (v3 = v4) usage: non-cached input, output, cache reads and writes.
 * Undefined when input or output is missing (an errored stream's `finish`): the caller must not
 * treat that as $0.
 */
export function tokenUsage(usage: LanguageModelV3Usage | undefined): TokenUsage | undefined {
  const input = usage?.inputTokens;
  const outputTokens = usage?.outputTokens?.total;
  if (input === undefined || outputTokens === undefined) return undefined;
  const cacheRead = input.cacheRead ?? 0;
  const cacheWrite = input.cacheWrite ?? 0;
  const inputTokens =
    input.noCache ?? (input.total === undefined ? undefined : input.total - cacheRead - cacheWrite);
  if (inputTokens === undefined || inputTokens < 0) return undefined;
  return { inputTokens, outputTokens, cacheReadInputTokens: cacheRead, cacheWriteInputTokens: cacheWrite };
}
