import type { ModelFamily, TokenUsage } from '@cycles-guard/core';
import { converseUsage } from './converse.ts';
import { anthropicUsage, invocationMetricsUsage } from './invoke-bodies.ts';
import { asCount, asObject, type JsonObject, parseJsonObject, utf8Bytes } from './json.ts';
import type { CallSettler } from './settle.ts';

/**
 * Conservative output estimate of streamed text: ceil(utf8 bytes / 3) per delta. It over-counts
 * English about 1.3x, so it is capped at the granted max tokens (the model cannot exceed them): an
 * over-estimate alone never cuts a stream off; an input larger than estimated still does.
 */
const BYTES_PER_TOKEN = 3;

/** Running and final usage of one stream, fed event by event. */
interface UsageWatch {
  /** Updates from one event; returns true when the running usage changed. */
  update(event: unknown): boolean;
  running(): Partial<TokenUsage>;
  /** Exact usage, once the stream reported it. */
  final(): TokenUsage | undefined;
}

function estimateTokens(text: unknown): number {
  return typeof text === 'string' && text.length > 0 ? Math.ceil(utf8Bytes(text) / BYTES_PER_TOKEN) : 0;
}

/** Watches ConverseStream events: text deltas (estimate), `metadata.usage` (exact). */
export function converseWatch(granted: number): UsageWatch {
  let estimated = 0;
  let final: TokenUsage | undefined;
  return {
    update(event) {
      const object = asObject(event);
      const delta = asObject(asObject(object?.contentBlockDelta)?.delta);
      if (delta !== undefined) {
        const added = estimateTokens(delta.text) + estimateTokens(asObject(delta.reasoningContent)?.text);
        estimated += added + estimateTokens(asObject(delta.toolUse)?.input);
        return added > 0;
      }
      const usage = converseUsage(asObject(object?.metadata)?.usage);
      if (usage !== undefined) final = usage;
      return usage !== undefined;
    },
    running: () => final ?? { outputTokens: Math.min(estimated, granted) },
    final: () => final,
  };
}

/** Text of one decoded Invoke stream chunk, per family. */
function chunkText(family: ModelFamily, chunk: JsonObject): unknown[] {
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

/** Watches InvokeModelWithResponseStream chunks (`{ chunk: { bytes } }`) of `family`. */
export function invokeWatch(family: ModelFamily, granted: number): UsageWatch {
  let estimated = 0;
  let reportedOutput: number | undefined;
  let startInput: Partial<TokenUsage> = {};
  let final: TokenUsage | undefined;
  return {
    update(event) {
      const chunk = parseJsonObject(asObject(asObject(event)?.chunk)?.bytes);
      if (chunk === undefined) return false;
      const metrics = invocationMetricsUsage(chunk);
      if (metrics !== undefined) {
        final = metrics;
        return true;
      }
      let changed = false;
      for (const text of chunkText(family, chunk)) {
        const added = estimateTokens(text);
        estimated += added;
        changed ||= added > 0;
      }
      if (family === 'anthropic') {
        const start = anthropicUsage(asObject(chunk.message)?.usage);
        if (start !== undefined) startInput = { ...start, outputTokens: undefined };
        // message_delta's output_tokens is cumulative: take the last one, never sum.
        const output = asCount(asObject(chunk.usage)?.output_tokens);
        if (output !== undefined) reportedOutput = output;
        changed ||= start !== undefined || output !== undefined;
      } else {
        const output = asCount(chunk.generation_token_count) ?? asCount(chunk.totalOutputTextTokenCount);
        if (output !== undefined) reportedOutput = output;
        const usage = converseUsage(asObject(chunk.metadata)?.usage);
        if (usage !== undefined) final = usage;
      }
      return changed;
    },
    running() {
      if (final !== undefined) return final;
      const running: Partial<TokenUsage> = { outputTokens: reportedOutput ?? Math.min(estimated, granted) };
      for (const [key, value] of Object.entries(startInput) as [keyof TokenUsage, number | undefined][]) {
        if (value !== undefined) running[key] = value;
      }
      return running;
    },
    final: () => final,
  };
}

/**
 * Wraps a response stream: reports running usage, stops reading (and aborts the request) at a budget
 * cutoff, and settles exactly once:
 * - the stream reported usage (finish): that exact usage;
 * - we stopped it (budget-context abort, client disconnect, consumer left early): what was observed,
 *   i.e. the input (reported, else the conservative estimate) plus the output counted from the deltas
 *   so far (reported counts, else ceil(utf8 bytes / 3) per delta); the rest of the hold goes back;
 * - a cutoff, an exception frame, a dropped connection, or an end without usage: the whole hold
 *   (Bedrock may have generated, and billed, more than reached us).
 *
 * Why not core's `call.track()`: its `finish()` without usage commits the last reported usage, which
 * here is only a byte estimate; Bedrock always sends exact usage last, so an end without it is treated
 * as unknown (the hold). The plugin also has to close the connection and record the charge
 * (`CallSettler`), so it drives `observe` / `commit` / `abort` itself.
 */
export function guardStream<T>(
  source: AsyncIterable<T>,
  settler: CallSettler,
  watch: UsageWatch,
  close: () => void,
): AsyncIterable<T> {
  const { call } = settler;
  return {
    async *[Symbol.asyncIterator]() {
      let ended = false;
      let failed = false;
      let cutoff = false;
      try {
        for await (const event of source) {
          const changed = watch.update(event);
          yield event;
          if (changed && watch.final() === undefined && call.observe(watch.running()) === 'stop') {
            cutoff = true;
            break;
          }
        }
        ended = true;
      } catch (error) {
        failed = true;
        throw error;
      } finally {
        // Leaving early (consumer break, cutoff) must stop Bedrock generating: close the connection.
        if (!ended) close();
        const final = watch.final();
        // An abort or an early exit was our doing; a failure on its own (frame, drop) was not.
        const stoppedByUs = !cutoff && final === undefined && (call.aborted || (!ended && !failed));
        // Finish, exception frame, dropped connection, abort, cutoff and consumer break all end here.
        await (stoppedByUs ? settler.commitObserved(watch.running()) : settler.commitOrHold(final)).catch(
          () => {},
        );
      }
    },
  };
}
