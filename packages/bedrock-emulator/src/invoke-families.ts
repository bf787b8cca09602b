import type { InputAccounting } from './cache.ts';
import { malformedInput } from './errors.ts';
import { chunkTokens, type Generation } from './generator.ts';
import { field, type JsonObject } from './json.ts';
import { effectiveMaxTokens, thinkingBudget } from './limits.ts';
import type { ModelFamily, ModelInfo } from './models.ts';
import { anthropicSegments, converseSegments, plainPromptSegments } from './prompt.ts';
import type { PromptSegment } from './tokens.ts';

/** What a family's body parser extracts from an InvokeModel body. */
export interface InvokeRequest {
  /** maxTokens as received (undefined when absent). */
  receivedMaxTokens: number | undefined;
  /** Dotted path of the field that carries maxTokens for this family. */
  maxTokensField: string;
  /** The limit the generator honours (received or model default). */
  maxTokens: number;
  segments: PromptSegment[];
  reasoningBudget: number | undefined;
}

/** Everything needed to render a family's response. */
export interface InvokeOutcome {
  resolvedModelId: string;
  requestId: string;
  generation: Generation;
  accounting: InputAccounting;
}

/** One stream chunk's model JSON and the cumulative output tokens sent once it has gone out. */
export interface FamilyChunk {
  json: JsonObject;
  outputTokens: number;
}

/** A model family's InvokeModel body format. */
export interface FamilyCodec {
  /** Paths of the body fields that may carry maxTokens, first match wins. */
  maxTokensPaths: readonly (readonly string[])[];
  /** Prompt segments only (used by CountTokens, which needs no maxTokens). */
  segments(body: JsonObject): PromptSegment[];
  /** Validate and read a request body. Throws a BedrockError. */
  parse(body: JsonObject, model: ModelInfo, resolvedModelId: string): InvokeRequest;
  /** Full InvokeModel response body. */
  response(outcome: InvokeOutcome): JsonObject;
  /** InvokeModelWithResponseStream chunks; the caller adds invocation metrics to the last. */
  streamChunks(outcome: InvokeOutcome, chunkSize: number): FamilyChunk[];
}

/** Anthropic's `usage.cache_creation`: cache writes by TTL. */
function cacheCreation(accounting: InputAccounting): JsonObject {
  return {
    ephemeral_5m_input_tokens: accounting.cacheWriteInputTokens - accounting.cacheWrite1hInputTokens,
    ephemeral_1h_input_tokens: accounting.cacheWrite1hInputTokens,
  };
}

function requireKey(body: JsonObject, key: string): void {
  if (body[key] === undefined) throw malformedInput(`#: required key [${key}] not found`);
}

function readMax(body: JsonObject, path: readonly string[]): unknown {
  let value: unknown = body;
  for (const key of path) value = field(value, key);
  return value;
}

/** The maxTokens value as received and the field it came from (the family's first field when absent). */
export function receivedMaxTokens(
  codec: Pick<FamilyCodec, 'maxTokensPaths'>,
  body: JsonObject,
): { value: unknown; field: string } {
  const paths = codec.maxTokensPaths;
  const path =
    paths.find((candidate) => readMax(body, candidate) !== undefined) ?? (paths[0] as readonly string[]);
  return { value: readMax(body, path), field: path.join('.') };
}

/** Build an InvokeRequest from the first present maxTokens path (or the first path when none is). */
function request(
  body: JsonObject,
  model: ModelInfo,
  paths: readonly (readonly string[])[],
  segments: PromptSegment[],
  options: { tooLarge?: string; thinking?: unknown } = {},
): InvokeRequest {
  const { value: received, field: maxTokensField } = receivedMaxTokens({ maxTokensPaths: paths }, body);
  const maxTokens = effectiveMaxTokens(received, maxTokensField, model, options.tooLarge);
  return {
    receivedMaxTokens: typeof received === 'number' ? received : undefined,
    maxTokensField,
    maxTokens,
    segments,
    reasoningBudget: thinkingBudget(options.thinking, maxTokens),
  };
}

const anthropic: FamilyCodec = {
  maxTokensPaths: [['max_tokens']],
  segments: anthropicSegments,
  parse(body, model, resolvedModelId) {
    requireKey(body, 'max_tokens');
    requireKey(body, 'messages');
    const name = resolvedModelId.replace(/^anthropic\./, '');
    return request(body, model, anthropic.maxTokensPaths, anthropicSegments(body), {
      tooLarge: `max_tokens: ${String(body.max_tokens)} > ${model.maxOutputTokens}, which is the maximum allowed number of output tokens for ${name}`,
      thinking: body.thinking,
    });
  },
  response({ resolvedModelId, requestId, generation, accounting }) {
    const content: JsonObject[] = [];
    if (generation.reasoning.length > 0) {
      content.push({ type: 'thinking', thinking: generation.reasoning.join(''), signature: 'ZW11bGF0ZWQ=' });
    }
    content.push({ type: 'text', text: generation.text.join('') });
    return {
      id: `msg_bdrk_${requestId.replaceAll('-', '').slice(0, 24)}`,
      type: 'message',
      role: 'assistant',
      model: resolvedModelId.replace(/^anthropic\./, ''),
      content,
      stop_reason: generation.truncated ? 'max_tokens' : 'end_turn',
      stop_sequence: null,
      usage: {
        input_tokens: accounting.inputTokens,
        cache_creation_input_tokens: accounting.cacheWriteInputTokens,
        cache_read_input_tokens: accounting.cacheReadInputTokens,
        cache_creation: cacheCreation(accounting),
        output_tokens: generation.outputTokens,
      },
    };
  },
  streamChunks(outcome, chunkSize) {
    const { generation, accounting } = outcome;
    const full = anthropic.response(outcome);
    let sent = 0;
    const chunks: FamilyChunk[] = [];
    const push = (json: JsonObject) => chunks.push({ json, outputTokens: sent });
    push({
      type: 'message_start',
      message: {
        ...full,
        content: [],
        stop_reason: null,
        usage: {
          input_tokens: accounting.inputTokens,
          cache_creation_input_tokens: accounting.cacheWriteInputTokens,
          cache_read_input_tokens: accounting.cacheReadInputTokens,
          cache_creation: cacheCreation(accounting),
          output_tokens: 1,
        },
      },
    });
    let index = 0;
    if (generation.reasoning.length > 0) {
      push({ type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '' } });
      for (const chunk of chunkTokens(generation.reasoning, chunkSize)) {
        sent += chunk.tokens;
        push({ type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: chunk.text } });
      }
      push({
        type: 'content_block_delta',
        index,
        delta: { type: 'signature_delta', signature: 'ZW11bGF0ZWQ=' },
      });
      push({ type: 'content_block_stop', index });
      index++;
    }
    push({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
    for (const chunk of chunkTokens(generation.text, chunkSize)) {
      sent += chunk.tokens;
      push({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: chunk.text } });
    }
    push({ type: 'content_block_stop', index });
    push({
      type: 'message_delta',
      delta: { stop_reason: full.stop_reason, stop_sequence: null },
      usage: { output_tokens: generation.outputTokens },
    });
    push({ type: 'message_stop' });
    return chunks;
  },
};

const nova: FamilyCodec = {
  maxTokensPaths: [
    ['inferenceConfig', 'maxTokens'],
    ['inferenceConfig', 'max_new_tokens'],
  ],
  segments: converseSegments,
  parse(body, model) {
    requireKey(body, 'messages');
    return request(body, model, nova.maxTokensPaths, converseSegments(body));
  },
  response({ generation, accounting }) {
    return {
      output: { message: { role: 'assistant', content: [{ text: generation.text.join('') }] } },
      stopReason: generation.truncated ? 'max_tokens' : 'end_turn',
      usage: {
        inputTokens: accounting.inputTokens,
        outputTokens: generation.outputTokens,
        totalTokens: accounting.inputTokens + generation.outputTokens,
        cacheReadInputTokenCount: accounting.cacheReadInputTokens,
        cacheWriteInputTokenCount: accounting.cacheWriteInputTokens,
      },
    };
  },
  streamChunks(outcome, chunkSize) {
    const { generation } = outcome;
    let sent = 0;
    const chunks: FamilyChunk[] = [{ json: { messageStart: { role: 'assistant' } }, outputTokens: 0 }];
    for (const chunk of chunkTokens(generation.text, chunkSize)) {
      sent += chunk.tokens;
      chunks.push({
        json: { contentBlockDelta: { delta: { text: chunk.text }, contentBlockIndex: 0 } },
        outputTokens: sent,
      });
    }
    const full = nova.response(outcome);
    chunks.push({ json: { contentBlockStop: { contentBlockIndex: 0 } }, outputTokens: sent });
    chunks.push({ json: { messageStop: { stopReason: full.stopReason } }, outputTokens: sent });
    chunks.push({ json: { metadata: { usage: full.usage, metrics: {}, trace: {} } }, outputTokens: sent });
    return chunks;
  },
};

const llama: FamilyCodec = {
  maxTokensPaths: [['max_gen_len']],
  segments: plainPromptSegments,
  parse(body, model) {
    requireKey(body, 'prompt');
    return request(body, model, llama.maxTokensPaths, plainPromptSegments(body));
  },
  response({ generation, accounting }) {
    return {
      generation: generation.text.join(''),
      prompt_token_count: accounting.inputTokens,
      generation_token_count: generation.outputTokens,
      stop_reason: generation.truncated ? 'length' : 'stop',
    };
  },
  streamChunks({ generation, accounting }, chunkSize) {
    let sent = 0;
    const chunks = chunkTokens(generation.text, chunkSize).map((chunk, index): FamilyChunk => {
      sent += chunk.tokens;
      return {
        json: {
          generation: chunk.text,
          prompt_token_count: index === 0 ? accounting.inputTokens : null,
          generation_token_count: sent,
          stop_reason: null,
        },
        outputTokens: sent,
      };
    });
    chunks.push({
      json: {
        generation: '',
        prompt_token_count: chunks.length === 0 ? accounting.inputTokens : null,
        generation_token_count: sent,
        stop_reason: generation.truncated ? 'length' : 'stop',
      },
      outputTokens: sent,
    });
    return chunks;
  },
};

const mistral: FamilyCodec = {
  maxTokensPaths: [['max_tokens']],
  segments: plainPromptSegments,
  parse(body, model) {
    if (body.prompt === undefined && body.messages === undefined) requireKey(body, 'prompt');
    return request(body, model, mistral.maxTokensPaths, plainPromptSegments(body));
  },
  // Mistral bodies carry no usage: clients read the headers or the stream's invocation metrics.
  response({ generation }) {
    return {
      outputs: [{ text: generation.text.join(''), stop_reason: generation.truncated ? 'length' : 'stop' }],
    };
  },
  streamChunks({ generation }, chunkSize) {
    let sent = 0;
    const chunks = chunkTokens(generation.text, chunkSize).map((chunk): FamilyChunk => {
      sent += chunk.tokens;
      return { json: { outputs: [{ text: chunk.text, stop_reason: null }] }, outputTokens: sent };
    });
    chunks.push({
      json: { outputs: [{ text: '', stop_reason: generation.truncated ? 'length' : 'stop' }] },
      outputTokens: sent,
    });
    return chunks;
  },
};

const titan: FamilyCodec = {
  maxTokensPaths: [['textGenerationConfig', 'maxTokenCount']],
  segments: plainPromptSegments,
  parse(body, model) {
    requireKey(body, 'inputText');
    return request(body, model, titan.maxTokensPaths, plainPromptSegments(body));
  },
  response({ generation, accounting }) {
    return {
      inputTextTokenCount: accounting.inputTokens,
      results: [
        {
          tokenCount: generation.outputTokens,
          outputText: generation.text.join(''),
          completionReason: generation.truncated ? 'LENGTH' : 'FINISH',
        },
      ],
    };
  },
  streamChunks({ generation, accounting }, chunkSize) {
    let sent = 0;
    const pieces = chunkTokens(generation.text, chunkSize);
    if (pieces.length === 0) pieces.push({ text: '', tokens: 0 });
    return pieces.map((chunk, index): FamilyChunk => {
      sent += chunk.tokens;
      const last = index === pieces.length - 1;
      return {
        json: {
          outputText: chunk.text,
          index: 0,
          totalOutputTextTokenCount: sent,
          completionReason: last ? (generation.truncated ? 'LENGTH' : 'FINISH') : null,
          inputTextTokenCount: index === 0 ? accounting.inputTokens : null,
        },
        outputTokens: sent,
      };
    });
  },
};

/**
 * OpenAI chat completions, as Bedrock serves gpt-oss, Qwen3 and DeepSeek V3 on InvokeModel: `messages`,
 * `max_completion_tokens` (or `max_tokens`), `choices` and an OpenAI `usage` object.
 */
const openai: FamilyCodec = {
  maxTokensPaths: [['max_completion_tokens'], ['max_tokens']],
  segments: plainPromptSegments,
  parse(body, model) {
    requireKey(body, 'messages');
    return request(body, model, openai.maxTokensPaths, plainPromptSegments(body));
  },
  response({ resolvedModelId, requestId, generation, accounting }) {
    const cached = accounting.cacheReadInputTokens;
    const prompt = accounting.inputTokens + cached + accounting.cacheWriteInputTokens;
    return {
      id: `chatcmpl-${requestId.replaceAll('-', '').slice(0, 24)}`,
      object: 'chat.completion',
      model: resolvedModelId,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: generation.text.join('') },
          finish_reason: generation.truncated ? 'length' : 'stop',
        },
      ],
      usage: {
        prompt_tokens: prompt,
        completion_tokens: generation.outputTokens,
        total_tokens: prompt + generation.outputTokens,
        ...(cached > 0 ? { prompt_tokens_details: { cached_tokens: cached } } : {}),
      },
    };
  },
  streamChunks(outcome, chunkSize) {
    const { generation } = outcome;
    const full = openai.response(outcome);
    let sent = 0;
    const chunks = chunkTokens(generation.text, chunkSize).map((chunk): FamilyChunk => {
      sent += chunk.tokens;
      return {
        json: { object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: chunk.text } }] },
        outputTokens: sent,
      };
    });
    const finish = (full.choices as JsonObject[])[0]?.finish_reason;
    chunks.push({
      json: {
        object: 'chat.completion.chunk',
        choices: [{ index: 0, delta: {}, finish_reason: finish }],
        usage: full.usage,
      },
      outputTokens: sent,
    });
    return chunks;
  },
};

/** The body codec of every supported family. */
export const FAMILIES: Record<ModelFamily, FamilyCodec> = { anthropic, nova, llama, mistral, titan, openai };
