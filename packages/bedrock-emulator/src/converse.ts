import type { OperationContext, Reply, StreamFrame } from './context.ts';
import { reportedLatencyMs } from './context.ts';
import { validationError } from './errors.ts';
import { encodeEvent } from './event-stream.ts';
import { chunkTokens, generate } from './generator.ts';
import { arrayOf, field } from './json.ts';
import { effectiveMaxTokens, thinkingBudget } from './limits.ts';
import { converseSegments } from './prompt.ts';

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

  const segments = converseSegments(body);
  const accounting = context.cache.account(context.resolvedModelId, segments);
  const generation = generate(
    {
      operation: context.operation,
      modelId: context.modelId,
      resolvedModelId: context.resolvedModelId,
      maxTokens,
      inputTokens: accounting.totalInputTokens,
      body,
    },
    { seed: settings.seed, outputTokens: settings.outputTokens, reasoningBudget },
  );
  Object.assign(record, {
    inputTokens: accounting.inputTokens,
    cacheReadInputTokens: accounting.cacheReadInputTokens,
    cacheWriteInputTokens: accounting.cacheWriteInputTokens,
  });
  const stopReason = generation.truncated ? 'max_tokens' : 'end_turn';
  const usage = {
    inputTokens: accounting.inputTokens,
    outputTokens: generation.outputTokens,
    totalTokens:
      accounting.inputTokens +
      generation.outputTokens +
      accounting.cacheReadInputTokens +
      accounting.cacheWriteInputTokens,
    ...(accounting.cacheReadInputTokens > 0 || accounting.cacheWriteInputTokens > 0
      ? {
          cacheReadInputTokens: accounting.cacheReadInputTokens,
          cacheWriteInputTokens: accounting.cacheWriteInputTokens,
        }
      : {}),
  };
  const hasReasoning = reasoningBudget !== undefined;

  if (!stream) {
    record.outputTokens = generation.outputTokens;
    const content: unknown[] = [];
    if (hasReasoning) {
      content.push({
        reasoningContent: { reasoningText: { text: generation.reasoning.join(''), signature: SIGNATURE } },
      });
    }
    content.push({ text: generation.text.join('') });
    return {
      kind: 'json',
      status: 200,
      body: {
        output: { message: { role: 'assistant', content } },
        stopReason,
        usage,
        metrics: { latencyMs: reportedLatencyMs(settings, 1) },
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
  push('messageStop', { stopReason });
  push('metadata', { usage, metrics: { latencyMs: reportedLatencyMs(settings, frames.length + 1) } });
  return { kind: 'stream', frames };
}
