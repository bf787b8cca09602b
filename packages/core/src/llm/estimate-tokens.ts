/** The text of a request, as the guard sees it before the call. */
export interface EstimateInput {
  /** System prompt texts. */
  system?: string[];
  /** Conversation turns; each content entry is one text block. */
  messages?: { role: string; content: string[] }[];
  /** JSON of each tool specification. */
  tools?: string[];
}

/**
 * Bytes of UTF-8 per estimated token (real tokenizers average ~3.5–4 English chars, ~1 CJK char per
 * token): the input estimate and the streamed-output estimate both count with it.
 */
export const BYTES_PER_TOKEN = 3;
/** Role and turn markers of one message. */
export const MESSAGE_OVERHEAD_TOKENS = 4;
/** Tool-use system prompt the provider injects when tools are present (Claude's is ~350 tokens). */
export const TOOLS_OVERHEAD_TOKENS = 400;

/** How {@link estimateInputTokens} counts, and how far it can be off. */
export const ESTIMATE_RULE =
  'estimate = Σ over every text (system, message content, tool specs) of ceil(utf8Bytes / 3) ' +
  '+ 4 per message + 400 once if any tools are given; a bare string counts as one user message. ' +
  'Bound against the emulator rule E = Σ ceil(utf8Bytes / 4) + 4 per message: ' +
  'E ≤ estimate ≤ 4/3·E + ⌈2k/3⌉ (+400 with tools), for k texts and any Unicode. ' +
  'Against real tokenizers it over-counts English prose (~3.5–4 chars/token) by about 1.15–1.35× and ' +
  'matches CJK (3 UTF-8 bytes, ~1 token per char); images and documents are not counted.';

/** UTF-8 byte length of a string (lone surrogates count 3 bytes, as U+FFFD), without allocating. */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && index + 1 < text.length) {
      const next = text.charCodeAt(index + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        index++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** Conservative token estimate of one text: ceil(utf8 bytes / {@link BYTES_PER_TOKEN}). */
export function textTokens(text: string): number {
  return Math.ceil(utf8ByteLength(text) / BYTES_PER_TOKEN);
}

/**
 * Conservative input-token estimate of a request before it is sent (see {@link ESTIMATE_RULE}). It is
 * never below the Bedrock emulator's count and over-counts real English prose by roughly a third.
 */
export function estimateInputTokens(input: EstimateInput | string): number {
  if (typeof input === 'string') return textTokens(input) + MESSAGE_OVERHEAD_TOKENS;
  let total = 0;
  for (const text of input.system ?? []) total += textTokens(text);
  for (const message of input.messages ?? []) {
    total += MESSAGE_OVERHEAD_TOKENS;
    for (const text of message.content) total += textTokens(text);
  }
  const tools = input.tools ?? [];
  if (tools.length > 0) total += TOOLS_OVERHEAD_TOKENS;
  for (const tool of tools) total += textTokens(tool);
  return total;
}
