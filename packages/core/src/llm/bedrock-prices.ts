import type { ModelPrice } from './cost.ts';

/** USD per 1M tokens → USD microcents per 1M tokens (exact for prices with at most 8 decimals). */
function usd(dollarsPerMillion: number): number {
  return Math.round(dollarsPerMillion * 100_000_000);
}

/** Claude: cache reads at 0.1× and cache writes (5-minute TTL) at 1.25× the input price. */
function claude(input: number, output: number, maxOutputTokens: number): ModelPrice {
  return Object.freeze({
    inputPerMillion: usd(input),
    outputPerMillion: usd(output),
    cacheReadPerMillion: usd(input * 0.1),
    cacheWritePerMillion: usd(input * 1.25),
    maxOutputTokens,
    contextWindow: 200_000,
  });
}

/** Nova: cache reads at 0.25× input (75% off); cache writes are billed as ordinary input. */
function nova(input: number, output: number, maxOutputTokens: number, contextWindow: number): ModelPrice {
  return Object.freeze({
    inputPerMillion: usd(input),
    outputPerMillion: usd(output),
    cacheReadPerMillion: usd(input * 0.25),
    cacheWritePerMillion: usd(input),
    maxOutputTokens,
    contextWindow,
  });
}

/** A model without prompt caching (cache components, if ever reported, fall back to the input price). */
function plain(input: number, output: number, maxOutputTokens: number, contextWindow?: number): ModelPrice {
  const price: ModelPrice = { inputPerMillion: usd(input), outputPerMillion: usd(output), maxOutputTokens };
  if (contextWindow !== undefined) price.contextWindow = contextWindow;
  return Object.freeze(price);
}

/**
 * Where {@link BEDROCK_PRICES} come from and how far to trust them. Details per model:
 * - Checked against stored copies of AWS docs / the pricing page's mirrors (2026-11-23): Claude 3.5 Haiku,
 *   3.7 Sonnet, Opus 4 ($0.80/$4, $3/$15, $15/$75), Nova Micro/Lite/Pro prices, Llama 3.2 3B/11B, 3.3 70B,
 *   Llama 4 Scout/Maverick prices, Titan Text Premier, the 10% global-vs-geo gap for Claude 4.5 models,
 *   Claude 3.5 Sonnet at $6/$30 (legacy "extended access", single third-party source), and output
 *   ceilings from AWS model cards: Claude Haiku 4.5 64K, Nova Lite 5K, Nova Premier 25K, Llama 4
 *   Maverick 8K, Mistral 7B 4K, Llama 3.1 405B 4K (we keep Bedrock's max_gen_len 2048).
 * - Best-known list prices, not re-verified here: the other Claude figures (Sonnet 4/4.5, Haiku 4.5,
 *   Opus 4.1, Claude 3 Haiku/Opus), Nova Premier ($2.50/$12.50) and Nova cache reads (0.25x input),
 *   Llama 3/3.1 8B-405B and 3.2 1B/90B, all Mistral and Titan Lite/Express figures.
 * Where sources disagree on an output ceiling we take the lower (a limit above the model's is rejected).
 */
export const BEDROCK_PRICES_SOURCE =
  'AWS Bedrock pricing page (https://aws.amazon.com/bedrock/pricing/), as of 2026-11-23, us-east-1 ' +
  'on-demand standard tier, in-region/geo cross-region price (global profiles of Claude 4.5 models bill ' +
  '~10% less, so they are over-reserved, never under). Partly verified against AWS docs and mirrors, ' +
  'the rest best-known published list prices. Legacy models in public extended access can cost up to ' +
  '2x list. Prices change: override with createCycles({ prices }).';

/**
 * Bedrock on-demand text-model prices keyed by lower-cased base model id, in USD microcents per 1M
 * tokens, with each model's own output ceiling. Unknown models are never priced at $0: they throw.
 */
export const BEDROCK_PRICES: Readonly<Record<string, ModelPrice>> = Object.freeze({
  // Anthropic
  'anthropic.claude-3-haiku-20240307-v1:0': claude(0.25, 1.25, 4096),
  'anthropic.claude-3-opus-20240229-v1:0': claude(15, 75, 4096),
  'anthropic.claude-3-5-haiku-20241022-v1:0': claude(0.8, 4, 8192),
  'anthropic.claude-3-5-sonnet-20240620-v1:0': claude(6, 30, 4096),
  'anthropic.claude-3-5-sonnet-20241022-v2:0': claude(6, 30, 8192),
  'anthropic.claude-3-7-sonnet-20250219-v1:0': claude(3, 15, 64_000),
  'anthropic.claude-sonnet-4-20250514-v1:0': claude(3, 15, 64_000),
  'anthropic.claude-sonnet-4-5-20250929-v1:0': claude(3.3, 16.5, 64_000),
  'anthropic.claude-haiku-4-5-20251001-v1:0': claude(1.1, 5.5, 64_000),
  'anthropic.claude-opus-4-20250514-v1:0': claude(15, 75, 32_000),
  'anthropic.claude-opus-4-1-20250805-v1:0': claude(15, 75, 32_000),
  // Amazon Nova
  'amazon.nova-micro-v1:0': nova(0.035, 0.14, 5000, 128_000),
  'amazon.nova-lite-v1:0': nova(0.06, 0.24, 5000, 300_000),
  'amazon.nova-pro-v1:0': nova(0.8, 3.2, 5000, 300_000),
  'amazon.nova-premier-v1:0': nova(2.5, 12.5, 25_000, 1_000_000),
  // Meta Llama
  'meta.llama3-8b-instruct-v1:0': plain(0.3, 0.6, 2048, 8192),
  'meta.llama3-70b-instruct-v1:0': plain(2.65, 3.5, 2048, 8192),
  'meta.llama3-1-8b-instruct-v1:0': plain(0.22, 0.22, 2048, 128_000),
  'meta.llama3-1-70b-instruct-v1:0': plain(0.72, 0.72, 2048, 128_000),
  'meta.llama3-1-405b-instruct-v1:0': plain(2.4, 2.4, 2048, 128_000),
  'meta.llama3-2-1b-instruct-v1:0': plain(0.1, 0.1, 2048, 128_000),
  'meta.llama3-2-3b-instruct-v1:0': plain(0.15, 0.15, 2048, 128_000),
  'meta.llama3-2-11b-instruct-v1:0': plain(0.16, 0.16, 2048, 128_000),
  'meta.llama3-2-90b-instruct-v1:0': plain(0.72, 0.72, 2048, 128_000),
  'meta.llama3-3-70b-instruct-v1:0': plain(0.72, 0.72, 2048, 128_000),
  'meta.llama4-scout-17b-instruct-v1:0': plain(0.17, 0.66, 8192),
  'meta.llama4-maverick-17b-instruct-v1:0': plain(0.24, 0.97, 8192, 1_000_000),
  // Mistral
  'mistral.mistral-7b-instruct-v0:2': plain(0.15, 0.2, 4096, 32_000),
  'mistral.mixtral-8x7b-instruct-v0:1': plain(0.45, 0.7, 4096, 32_000),
  'mistral.mistral-large-2402-v1:0': plain(4, 12, 8192, 32_000),
  'mistral.mistral-large-2407-v1:0': plain(2, 6, 8192, 128_000),
  'mistral.mistral-small-2402-v1:0': plain(1, 3, 8192, 32_000),
  // Amazon Titan
  'amazon.titan-text-lite-v1': plain(0.15, 0.2, 4096, 4096),
  'amazon.titan-text-express-v1': plain(0.2, 0.6, 8192, 8192),
  'amazon.titan-text-premier-v1:0': plain(0.5, 1.5, 3072, 32_000),
});
