import type { OperationContext, Reply, StreamFrame } from './context.ts';
import { reportedLatencyMs } from './context.ts';
import { malformedInput } from './errors.ts';
import { encodeChunk } from './event-stream.ts';
import { generate } from './generator.ts';
import { FAMILIES, type InvokeOutcome, receivedMaxTokens } from './invoke-families.ts';
import { isObject } from './json.ts';

/** Handle InvokeModel and InvokeModelWithResponseStream for every supported family. */
export function handleInvokeModel(context: OperationContext, stream: boolean): Reply {
  const { body, record, settings, model } = context;
  if (!isObject(body)) throw malformedInput('#: expected type: JSONObject');
  const codec = FAMILIES[model.family];
  // Record maxTokens before validating, so rejected requests still show what was asked for.
  const received = receivedMaxTokens(codec, body);
  record.maxTokens = typeof received.value === 'number' ? received.value : undefined;
  record.maxTokensField = received.field;
  const parsed = codec.parse(body, model, context.resolvedModelId);

  const accounting = context.cache.account(context.resolvedModelId, parsed.segments);
  const generation = generate(
    {
      operation: context.operation,
      modelId: context.modelId,
      resolvedModelId: context.resolvedModelId,
      maxTokens: parsed.maxTokens,
      inputTokens: accounting.totalInputTokens,
      body,
    },
    { seed: settings.seed, outputTokens: settings.outputTokens, reasoningBudget: parsed.reasoningBudget },
  );
  Object.assign(record, {
    inputTokens: accounting.inputTokens,
    cacheReadInputTokens: accounting.cacheReadInputTokens,
    cacheWriteInputTokens: accounting.cacheWriteInputTokens,
    cacheWrite1hInputTokens: accounting.cacheWrite1hInputTokens,
  });
  const outcome: InvokeOutcome = {
    resolvedModelId: context.resolvedModelId,
    requestId: context.requestId,
    generation,
    accounting,
  };

  if (!stream) {
    record.outputTokens = generation.outputTokens;
    const headers: Record<string, string> = {
      'x-amzn-bedrock-input-token-count': String(accounting.inputTokens),
      'x-amzn-bedrock-output-token-count': String(generation.outputTokens),
      'x-amzn-bedrock-invocation-latency': String(reportedLatencyMs(settings, 1)),
    };
    if (context.serviceTier !== undefined) headers['x-amzn-bedrock-service-tier'] = context.serviceTier;
    if (accounting.cacheReadInputTokens > 0 || accounting.cacheWriteInputTokens > 0) {
      headers['x-amzn-bedrock-cache-read-input-token-count'] = String(accounting.cacheReadInputTokens);
      headers['x-amzn-bedrock-cache-write-input-token-count'] = String(accounting.cacheWriteInputTokens);
    }
    return { kind: 'json', status: 200, body: codec.response(outcome), headers };
  }

  const chunks = codec.streamChunks(outcome, settings.chunkTokens);
  const last = chunks[chunks.length - 1];
  if (last) {
    // Bedrock appends its own metrics to the model's final chunk.
    last.json['amazon-bedrock-invocationMetrics'] = {
      inputTokenCount: accounting.inputTokens,
      outputTokenCount: generation.outputTokens,
      invocationLatency: reportedLatencyMs(settings, chunks.length),
      firstByteLatency: settings.latency.firstByteMs ?? 0,
      ...(accounting.cacheReadInputTokens > 0 || accounting.cacheWriteInputTokens > 0
        ? {
            cacheReadInputTokenCount: accounting.cacheReadInputTokens,
            cacheWriteInputTokenCount: accounting.cacheWriteInputTokens,
          }
        : {}),
    };
  }
  const frames: StreamFrame[] = chunks.map((chunk) => ({
    bytes: encodeChunk(chunk.json),
    outputTokens: chunk.outputTokens,
  }));
  const headers: Record<string, string> = { 'x-amzn-bedrock-content-type': 'application/json' };
  if (context.serviceTier !== undefined) headers['x-amzn-bedrock-service-tier'] = context.serviceTier;
  return { kind: 'stream', frames, headers };
}
