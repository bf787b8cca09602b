import type { ModelFamily, StreamSettler } from '@cycles-guard/core/llm';
import { converseUsage } from './converse.ts';
import { anthropicUsage, invocationMetricsUsage } from './invoke-bodies.ts';
import { asCount, asObject, type JsonObject, parseJsonObject } from './json.ts';

// What a Bedrock response stream shows, fed to core's StreamSettler (which decides what is charged):
// output text (estimated), counts reported on the way, and the exact usage Bedrock sends last.

/** Feeds one ConverseStream event: text, reasoning and tool-input deltas; `metadata.usage` (final). */
export function feedConverseEvent(settler: StreamSettler, event: unknown): void {
  const object = asObject(event);
  const delta = asObject(asObject(object?.contentBlockDelta)?.delta);
  if (delta !== undefined) {
    settler.text(delta.text);
    settler.text(asObject(delta.reasoningContent)?.text);
    settler.text(asObject(delta.toolUse)?.input);
    return;
  }
  const usage = converseUsage(asObject(object?.metadata)?.usage);
  if (usage !== undefined) settler.final(usage);
}

/** Text of one decoded Invoke stream chunk, per family. */
function chunkTexts(family: ModelFamily, chunk: JsonObject): unknown[] {
  switch (family) {
    case 'anthropic': {
      const delta = asObject(chunk.delta);
      return [delta?.text, delta?.thinking, delta?.partial_json];
    }
    case 'nova':
      return [asObject(asObject(chunk.contentBlockDelta)?.delta)?.text];
    case 'llama':
      return [chunk.generation];
    case 'titan':
      return [chunk.outputText];
    default: {
      const outputs = Array.isArray(chunk.outputs)
        ? chunk.outputs
        : Array.isArray(chunk.choices)
          ? chunk.choices
          : [];
      return outputs.flatMap((output) => {
        const object = asObject(output);
        return [object?.text, asObject(object?.delta)?.content, asObject(object?.message)?.content];
      });
    }
  }
}

/**
 * Feeds one InvokeModelWithResponseStream event (`{ chunk: { bytes } }`) of `family`: text deltas,
 * reported counts (Anthropic's input at `message_start`, cumulative output counts), and the final
 * `amazon-bedrock-invocationMetrics` (or Converse-shaped `metadata.usage`).
 */
export function feedInvokeChunk(family: ModelFamily, settler: StreamSettler, event: unknown): void {
  const chunk = parseJsonObject(asObject(asObject(event)?.chunk)?.bytes);
  if (chunk === undefined) return;
  const metrics = invocationMetricsUsage(chunk);
  if (metrics !== undefined) {
    settler.final(metrics);
    return;
  }
  for (const text of chunkTexts(family, chunk)) settler.text(text);
  if (family === 'anthropic') {
    const start = anthropicUsage(asObject(chunk.message)?.usage);
    // message_start's output count is a placeholder: the output comes from the deltas.
    if (start !== undefined) settler.usage({ ...start, outputTokens: undefined });
    // message_delta's output_tokens is cumulative: the last one wins, never a sum.
    const output = asCount(asObject(chunk.usage)?.output_tokens);
    if (output !== undefined) settler.usage({ outputTokens: output });
    return;
  }
  const output = asCount(chunk.generation_token_count) ?? asCount(chunk.totalOutputTextTokenCount);
  if (output !== undefined) settler.usage({ outputTokens: output });
  const usage = converseUsage(asObject(chunk.metadata)?.usage);
  if (usage !== undefined) settler.final(usage);
}
