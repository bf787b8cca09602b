/**
 * The emulator's deterministic token rule, shared by usage accounting and CountTokens.
 * Exported so tests and budget code can predict exactly what the emulator will bill.
 */
export const TOKEN_RULE =
  'input tokens = sum over every text string (tool specs as JSON, system, message texts, tool inputs/results ' +
  'as JSON, InvokeModel prompts) of ceil(utf8Bytes / 4), plus 4 per message';

/** Tokens added for each message (role/turn overhead). */
export const TOKENS_PER_MESSAGE = 4;

/** One piece of a prompt, in the order the model would read it. */
export type PromptSegment =
  | { kind: 'text'; text: string }
  | { kind: 'message' }
  /** A cache checkpoint: everything before it is a cacheable prefix, kept for `ttl` (5m unless 1h). */
  | { kind: 'cachePoint'; ttl?: '1h' };

/** Tokens of one text string under {@link TOKEN_RULE}. */
export function countTextTokens(text: string): number {
  return Math.ceil(Buffer.byteLength(text, 'utf8') / 4);
}

/** Total input tokens of a prompt under {@link TOKEN_RULE} (cache checkpoints cost nothing). */
export function countInputTokens(segments: readonly PromptSegment[]): number {
  let total = 0;
  for (const segment of segments) {
    if (segment.kind === 'text') total += countTextTokens(segment.text);
    else if (segment.kind === 'message') total += TOKENS_PER_MESSAGE;
  }
  return total;
}

/** The part of a prompt before its last cache checkpoint, or undefined when it has none. */
export function cacheablePrefix(segments: readonly PromptSegment[]): PromptSegment[] | undefined {
  let last = -1;
  segments.forEach((segment, index) => {
    if (segment.kind === 'cachePoint') last = index;
  });
  return last < 0 ? undefined : segments.slice(0, last);
}
