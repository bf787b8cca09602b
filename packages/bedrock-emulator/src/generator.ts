import type { Operation } from './operations.ts';

/** What the generator knows about a request when choosing an output length. */
export interface GenerationRequest {
  operation: Operation;
  /** The model id as received in the path (decoded). */
  modelId: string;
  resolvedModelId: string;
  /** The maxTokens the generator must honour (received, or the model default). */
  maxTokens: number;
  /** Total input tokens of the prompt. */
  inputTokens: number;
  /** The parsed request body. */
  body: unknown;
}

/** Desired output length: a fixed number, or a function of the request. Clamped to maxTokens. */
export type OutputTokensOption = number | ((request: GenerationRequest) => number);

/** A generated answer: `reasoning` and `text` token lists; each token is one word chunk. */
export interface Generation {
  reasoning: string[];
  text: string[];
  /** reasoning.length + text.length, never above maxTokens. */
  outputTokens: number;
  /** True when the desired length hit maxTokens (stop reason `max_tokens` / `length`). */
  truncated: boolean;
}

const WORDS = (
  'the budget guard keeps every model call inside its limit while tokens flow through a local emulator ' +
  'that answers like bedrock with usage metrics streams and faults so tests stay fast offline and exact'
).split(' ');

/** FNV-1a 32-bit hash, used to derive a per-request seed. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** mulberry32: tiny seeded PRNG returning floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Lower and upper bound (inclusive) of the default pseudo-random output length. */
export const DEFAULT_OUTPUT_RANGE = [8, 200] as const;

/**
 * Produce the output for one request. The default length is pseudo-random but a pure function of
 * (seed, model, body), so the same request always gets the same answer. The result never exceeds
 * `maxTokens`; reasoning (when `reasoningBudget` is set) takes up to half the output, capped by the budget.
 */
export function generate(
  request: GenerationRequest,
  options: { seed: number; outputTokens?: OutputTokensOption; reasoningBudget?: number },
): Generation {
  const random = mulberry32(
    fnv1a(`${options.seed}|${request.resolvedModelId}|${JSON.stringify(request.body)}`),
  );
  const [low, high] = DEFAULT_OUTPUT_RANGE;
  const desiredRaw =
    typeof options.outputTokens === 'function'
      ? options.outputTokens(request)
      : (options.outputTokens ?? low + Math.floor(random() * (high - low + 1)));
  const desired = Math.max(0, Math.floor(desiredRaw));
  const maxTokens = Math.max(0, request.maxTokens);
  const outputTokens = Math.min(desired, maxTokens);
  let reasoningTokens = 0;
  if (options.reasoningBudget !== undefined && outputTokens > 0) {
    reasoningTokens = Math.min(options.reasoningBudget, Math.max(1, Math.floor(outputTokens / 2)));
  }
  const word = () => WORDS[Math.floor(random() * WORDS.length)] ?? 'token';
  // Tokens after the first carry their leading space, so joining the chunks rebuilds the text.
  const words = (count: number) =>
    Array.from({ length: count }, (_, index) => (index === 0 ? '' : ' ') + word());
  return {
    reasoning: words(reasoningTokens),
    text: words(outputTokens - reasoningTokens),
    outputTokens,
    truncated: desired > maxTokens,
  };
}

/** One stream delta: its text and how many tokens it carries. */
export interface TokenChunk {
  text: string;
  tokens: number;
}

/** Largest number of tokens in one stream delta. */
export const MAX_CHUNK_TOKENS = 64;

/** Split tokens into stream chunks of `size` tokens (clamped to 1..{@link MAX_CHUNK_TOKENS}). */
export function chunkTokens(tokens: readonly string[], size: number): TokenChunk[] {
  const step = Math.min(MAX_CHUNK_TOKENS, Math.max(1, Math.floor(size)));
  const chunks: TokenChunk[] = [];
  for (let index = 0; index < tokens.length; index += step) {
    const slice = tokens.slice(index, index + step);
    chunks.push({ text: slice.join(''), tokens: slice.length });
  }
  return chunks;
}
