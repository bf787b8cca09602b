import type { InputAccounting } from './cache.ts';
import type { OperationContext, Reply, StreamFrame } from './context.ts';
import { reportedLatencyMs } from './context.ts';
import { validationError } from './errors.ts';
import { encodeEvent } from './event-stream.ts';
import { chunkTokens, generate } from './generator.ts';
import { arrayOf, field } from './json.ts';
import { effectiveMaxTokens, thinkingBudget } from './limits.ts';
import { converseSegments } from './prompt.ts';
import { planToolCall } from './tool-calls.ts';

/** Emulated reasoning signature (opaque to clients). */
const SIGNATURE = 'ZW11bGF0ZWQtc2lnbmF0dXJl';

/** Reasoning budget from `additionalModelRequestFields.thinking` or `.reasoningConfig`, if enabled. */
function converseReasoningBudget(body: unknown, maxTokens: number): number | undefined {
  const extra = field(body, 'additionalModelRequestFields');
  const budget = thinkingBudget(field(extra, 'thinking'), maxTokens);
  if (budget !== undefined) return budget;
  const reasoningConfig = field(extra, 'reasoningConfig');
  if (field(reasoningConfig, 'type') !== 'enabled') return undefined;
  const configured = field(reasoningConfig, 'budgetTokens');
  return typeof configured === 'number' ? Math.min(configured, maxTokens) : maxTokens;
}

/** Converse `usage.cacheDetails`: cache writes by TTL, 1h before 5m, as Bedrock sorts them. */
export function cacheDetails(accounting: InputAccounting): { ttl: '1h' | '5m'; inputTokens: number }[] {
  const details: { ttl: '1h' | '5m'; inputTokens: number }[] = [];
  const oneHour = accounting.cacheWrite1hInputTokens;
  const fiveMinutes = accounting.cacheWriteInputTokens - oneHour;
  if (oneHour > 0) details.push({ ttl: '1h', inputTokens: oneHour });
  if (fiveMinutes > 0) details.push({ ttl: '5m', inputTokens: fiveMinutes });
  return details;
}

/** Handle Converse and ConverseStream. */
export function handleConverse(context: OperationContext, stream: boolean): Reply {
  const { body, record, settings } = context;
  const messages = arrayOf(field(body, 'messages'));
  if (messages.length === 0 || field(messages[0], 'role') !== 'user') {
    throw validationError(
      'A conversation must start with a user message. Try again with a conversation that starts with a user message.',
    );
  }
  const received = field(field(body, 'inferenceConfig'), 'maxTokens');
  record.maxTokensField = 'inferenceConfig.maxTokens';
  record.maxTokens = typeof received === 'number' ? received : undefined;
  const maxTokens = effectiveMaxTokens(received, 'inferenceConfig.maxTokens', context.model);
  const reasoningBudget = converseReasoningBudget(body, maxTokens);

  // A tool call is part of the output: the text before it gets what maxTokens leaves.
  const plannedCall = planToolCall(settings.toolCalls, body, context.requestId);
  const toolCall =
    plannedCall !== undefined && plannedCall.outputTokens <= maxTokens ? plannedCall : undefined;
  const toolTokens = toolCall?.outputTokens ?? 0;

  const segments = converseSegments(body);
  const accounting = context.cache.account(context.resolvedModelId, segments);
  const generation = generate(
    {
      operation: context.operation,
      modelId: context.modelId,
      resolvedModelId: context.resolvedModelId,
      maxTokens: maxTokens - toolTokens,
      inputTokens: accounting.totalInputTokens,
      body,
    },
    { seed: settings.seed, outputTokens: settings.outputTokens, reasoningBudget },
  );
  Object.assign(record, {
    inputTokens: accounting.inputTokens,
    cacheReadInputTokens: accounting.cacheReadInputTokens,
    cacheWriteInputTokens: accounting.cacheWriteInputTokens,
    cacheWrite1hInputTokens: accounting.cacheWrite1hInputTokens,
  });
  const stopReason = toolCall !== undefined ? 'tool_use' : generation.truncated ? 'max_tokens' : 'end_turn';
  const outputTokens = generation.outputTokens + toolTokens;
  const usage = {
    inputTokens: accounting.inputTokens,
    outputTokens,
    totalTokens:
      accounting.inputTokens +
      outputTokens +
      accounting.cacheReadInputTokens +
      accounting.cacheWriteInputTokens,
    ...(accounting.cacheReadInputTokens > 0 || accounting.cacheWriteInputTokens > 0
      ? {
          cacheReadInputTokens: accounting.cacheReadInputTokens,
          cacheWriteInputTokens: accounting.cacheWriteInputTokens,
        }
      : {}),
    ...(accounting.cacheWriteInputTokens > 0 ? { cacheDetails: cacheDetails(accounting) } : {}),
  };
  // Bedrock echoes the tier that served the request.
  const tier = context.serviceTier === undefined ? {} : { serviceTier: { type: context.serviceTier } };
  const hasReasoning = reasoningBudget !== undefined;

  if (!stream) {
    record.outputTokens = outputTokens;
    const content: unknown[] = [];
    if (hasReasoning) {
      content.push({
        reasoningContent: { reasoningText: { text: generation.reasoning.join(''), signature: SIGNATURE } },
      });
    }
    if (generation.text.length > 0 || toolCall === undefined)
      content.push({ text: generation.text.join('') });
    if (toolCall !== undefined) {
      content.push({
        toolUse: { toolUseId: toolCall.toolUseId, name: toolCall.name, input: toolCall.input },
      });
    }
    return {
      kind: 'json',
      status: 200,
      body: {
        output: { message: { role: 'assistant', content } },
        stopReason,
        usage,
        metrics: { latencyMs: reportedLatencyMs(settings, 1) },
        ...tier,
      },
    };
  }

  const frames: StreamFrame[] = [];
  let sent = 0;
  const push = (eventType: string, payload: unknown) =>
    frames.push({ bytes: encodeEvent(eventType, payload), outputTokens: sent });
  push('messageStart', { role: 'assistant' });
  let index = 0;
  if (hasReasoning) {
    for (const chunk of chunkTokens(generation.reasoning, settings.chunkTokens)) {
      sent += chunk.tokens;
      push('contentBlockDelta', {
        contentBlockIndex: index,
        delta: { reasoningContent: { text: chunk.text } },
      });
    }
    push('contentBlockDelta', {
      contentBlockIndex: index,
      delta: { reasoningContent: { signature: SIGNATURE } },
    });
    push('contentBlockStop', { contentBlockIndex: index });
    index++;
  }
  for (const chunk of chunkTokens(generation.text, settings.chunkTokens)) {
    sent += chunk.tokens;
    push('contentBlockDelta', { contentBlockIndex: index, delta: { text: chunk.text } });
  }
  push('contentBlockStop', { contentBlockIndex: index });
  if (toolCall !== undefined) {
    index++;
    push('contentBlockStart', {
      contentBlockIndex: index,
      start: { toolUse: { toolUseId: toolCall.toolUseId, name: toolCall.name } },
    });
    sent += toolCall.outputTokens;
    push('contentBlockDelta', {
      contentBlockIndex: index,
      delta: { toolUse: { input: JSON.stringify(toolCall.input) } },
    });
    push('contentBlockStop', { contentBlockIndex: index });
  }
  push('messageStop', { stopReason });
  push('metadata', {
    usage,
    metrics: { latencyMs: reportedLatencyMs(settings, frames.length + 1) },
    ...tier,
  });
  return { kind: 'stream', frames };
}
