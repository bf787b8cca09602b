import type { LongContextRates, ModelPrice } from './cost.ts';

/** USD per 1M tokens → USD microcents per 1M tokens (exact for prices with at most 8 decimals). */
function usd(dollarsPerMillion: number): number {
  return Math.round(dollarsPerMillion * 100_000_000);
}

/** Where an entry's figures come from and whether they were checked on `asOf`. */
interface Provenance {
  source: string;
  asOf: string;
  verified: boolean;
}

const PRICING_PAGE = 'https://aws.amazon.com/bedrock/pricing/';
const CLAUDE_DOCS = 'https://platform.claude.com/docs/en/about-claude/models/overview';
const TODAY = '2026-12-06';
const EARLIER = '2026-11-23';

/** Checked today against a stored source. */
function seen(source: string): Provenance {
  return { source, asOf: TODAY, verified: true };
}
/** Best-known list price, not re-verified today. */
function known(asOf = TODAY, source = PRICING_PAGE): Provenance {
  return { source, asOf, verified: false };
}

/** Claude above 200K input tokens (1M-context models): input and cache ×2, output ×1.5. */
const CLAUDE_LONG_CONTEXT: LongContextRates = {
  aboveInputTokens: 200_000,
  inputPercent: 200,
  outputPercent: 150,
};

interface ClaudeOptions {
  contextWindow?: number;
  /** Since Claude 4.5, geo and in-region calls bill 10 % over the global (list) price. */
  regionalPremium?: boolean;
  longContext?: boolean;
}

/**
 * Claude at list price `input`/`output`: cache reads at 0.1×, 5-minute cache writes at 1.25× and 1-hour
 * writes at 2× the input price.
 */
function claude(
  input: number,
  output: number,
  maxOutputTokens: number,
  provenance: Provenance,
  options: ClaudeOptions = {},
): ModelPrice {
  const rates = (inputPrice: number, outputPrice: number) => ({
    inputPerMillion: usd(inputPrice),
    outputPerMillion: usd(outputPrice),
    cacheReadPerMillion: usd(inputPrice * 0.1),
    cacheWritePerMillion: usd(inputPrice * 1.25),
    cacheWrite1hPerMillion: usd(inputPrice * 2),
  });
  const premium = options.regionalPremium === true ? 1.1 : 1;
  const price: ModelPrice = {
    ...rates(input * premium, output * premium),
    maxOutputTokens,
    contextWindow: options.contextWindow ?? 200_000,
    ...provenance,
  };
  if (premium !== 1) price.global = rates(input, output);
  if (options.longContext === true) price.longContext = CLAUDE_LONG_CONTEXT;
  return Object.freeze(price);
}

/** Nova: cache reads at 0.25× input (75% off); cache writes are billed as ordinary input. */
function nova(
  input: number,
  output: number,
  maxOutputTokens: number,
  contextWindow: number,
  provenance: Provenance,
  tiers: Pick<ModelPrice, 'flexPercent'> = {},
): ModelPrice {
  return Object.freeze({
    inputPerMillion: usd(input),
    outputPerMillion: usd(output),
    cacheReadPerMillion: usd(input * 0.25),
    cacheWritePerMillion: usd(input),
    maxOutputTokens,
    contextWindow,
    ...tiers,
    ...provenance,
  });
}

/** A model without prompt caching (cache components, if ever reported, fall back to the input price). */
function plain(
  input: number,
  output: number,
  maxOutputTokens: number,
  contextWindow: number | undefined,
  provenance: Provenance,
  tiers: Pick<ModelPrice, 'flexPercent' | 'priorityPercent'> = {},
): ModelPrice {
  const price: ModelPrice = {
    inputPerMillion: usd(input),
    outputPerMillion: usd(output),
    maxOutputTokens,
    ...tiers,
    ...provenance,
  };
  if (contextWindow !== undefined) price.contextWindow = contextWindow;
  return Object.freeze(price);
}

/** The Priority/Flex models of Nov 2025 (gpt-oss, DeepSeek V3.1, Qwen3): Flex at half the standard rate. */
const FLEX_HALF = { flexPercent: 50 } as const;

/**
 * Where {@link BEDROCK_PRICES} come from and how far to trust them. Each entry carries `source`, `asOf`
 * and `verified`; `verified: true` means the figure was read in a stored copy of the named page on
 * `asOf` (2026-12-06), `false` that it is a best-known list price. Sources disagreed on: Claude Opus
 * 4.6 ($5/$25 on Anthropic's pages, $15/$75 on a third-party page), Opus 4.1 ($15/$75 vs ~$18/$90),
 * Haiku 4.5 ($1/$5 vs $0.80/$4), Llama 3.1 405B ($2.40/$2.40, $2.50/$10, $5.32/$16), Llama 3.1 70B and
 * 8B, Llama 3.3 70B input ($0.72 vs $2.65), Cohere Command R+ ($2.50/$10 vs $3/$15): the higher price
 * of each field is taken (over-reserve, never under). Output ceilings: where sources disagree we take
 * the lower (a limit above the model's is rejected by Bedrock, and the guard always sends one).
 */
export const BEDROCK_PRICES_SOURCE =
  'AWS Bedrock pricing page (https://aws.amazon.com/bedrock/pricing/) and Anthropic model pages, as of ' +
  '2026-12-06, us-east-1 on-demand standard tier, geo/in-region price; global profiles of Claude 4.5+ ' +
  'models are priced at their own (10% lower) rates. Per-entry source, date and verified flag; where ' +
  'sources disagree the higher price is taken. Override with createCycles({ prices }) or a prices file.';

/** The version of the built-in table, reported with every call priced from it. */
export const BEDROCK_PRICES_VERSION = `builtin-${TODAY}`;

/**
 * Bedrock on-demand text-model prices keyed by lower-cased base model id, in USD microcents per 1M
 * tokens, with each model's own output ceiling. Unknown models are never priced at $0: they throw.
 */
export const BEDROCK_PRICES: Readonly<Record<string, ModelPrice>> = Object.freeze({
  // Anthropic, legacy generations (in-region and geo profiles only)
  'anthropic.claude-3-haiku-20240307-v1:0': claude(0.25, 1.25, 4096, known(EARLIER)),
  'anthropic.claude-3-opus-20240229-v1:0': claude(15, 75, 4096, known(EARLIER)),
  'anthropic.claude-3-5-haiku-20241022-v1:0': claude(
    0.8,
    4,
    8192,
    seen('https://deploybase.ai/articles/amazon-bedrock-pricing'),
  ),
  'anthropic.claude-3-5-sonnet-20240620-v1:0': claude(
    6,
    30,
    4096,
    seen('https://clauder-navi.com/en/bedrock-claude-cost/'),
  ),
  'anthropic.claude-3-5-sonnet-20241022-v2:0': claude(
    6,
    30,
    8192,
    seen('https://clauder-navi.com/en/bedrock-claude-cost/'),
  ),
  'anthropic.claude-3-7-sonnet-20250219-v1:0': claude(
    3,
    15,
    64_000,
    seen('https://deploybase.ai/articles/amazon-bedrock-pricing'),
  ),
  'anthropic.claude-sonnet-4-20250514-v1:0': claude(3, 15, 64_000, known(EARLIER), {
    contextWindow: 1_000_000,
    longContext: true,
  }),
  'anthropic.claude-opus-4-20250514-v1:0': claude(
    15,
    75,
    32_000,
    seen('https://deploybase.ai/articles/amazon-bedrock-pricing'),
  ),
  'anthropic.claude-opus-4-1-20250805-v1:0': claude(
    18,
    90,
    32_000,
    seen('https://theneuralbase.com/aws-bedrock/learn/advanced/model-selection-for-cost-on-bedrock/'),
  ),
  // Anthropic 4.5+: global list price, geo/in-region +10 %
  'anthropic.claude-sonnet-4-5-20250929-v1:0': claude(
    3,
    15,
    64_000,
    seen('https://clauder-navi.com/en/bedrock-claude-cost/'),
    { regionalPremium: true, contextWindow: 1_000_000, longContext: true },
  ),
  'anthropic.claude-haiku-4-5-20251001-v1:0': claude(
    1,
    5,
    64_000,
    seen('https://clauder-navi.com/en/bedrock-claude-cost/'),
    { regionalPremium: true },
  ),
  'anthropic.claude-opus-4-5-20251101-v1:0': claude(
    5,
    25,
    64_000,
    seen('https://clauder-navi.com/en/bedrock-claude-cost/'),
    { regionalPremium: true },
  ),
  'anthropic.claude-opus-4-6-v1': claude(
    15,
    75,
    64_000,
    seen('https://learn.cloudbuckle.com/docs/claude-optimization/cost-anatomy'),
    { regionalPremium: true, contextWindow: 1_000_000, longContext: true },
  ),
  'anthropic.claude-sonnet-4-6': claude(
    3,
    15,
    64_000,
    seen('https://platform.claude.com/docs/en/models/sonnet-4-6/overview'),
    { regionalPremium: true, contextWindow: 1_000_000, longContext: true },
  ),
  'anthropic.claude-opus-4-7': claude(
    5,
    25,
    128_000,
    seen('https://clauder-navi.com/en/bedrock-claude-cost/'),
    { regionalPremium: true, contextWindow: 1_000_000 },
  ),
  'anthropic.claude-opus-4-8': claude(5, 25, 128_000, known(TODAY, CLAUDE_DOCS), {
    regionalPremium: true,
    contextWindow: 1_000_000,
  }),
  'anthropic.claude-sonnet-5': claude(
    2,
    10,
    128_000,
    seen('https://platform.claude.com/docs/en/models/sonnet-5/overview'),
    { regionalPremium: true, contextWindow: 1_000_000 },
  ),
  'anthropic.claude-sonnet-5-5': claude(
    2,
    10,
    128_000,
    seen('https://platform.claude.com/docs/en/models/sonnet-5-5/overview'),
    { regionalPremium: true, contextWindow: 1_000_000 },
  ),
  'anthropic.claude-opus-5': claude(
    5,
    25,
    128_000,
    seen('https://platform.claude.com/docs/about-claude/models/whats-new-opus-5'),
    { regionalPremium: true, contextWindow: 1_000_000 },
  ),
  'anthropic.claude-opus-5-5': claude(
    4,
    20,
    128_000,
    seen('https://platform.claude.com/docs/en/models/opus-5-5/overview'),
    { regionalPremium: true, contextWindow: 1_000_000 },
  ),
  'anthropic.claude-haiku-5-5': claude(1, 5, 128_000, known(TODAY, CLAUDE_DOCS), {
    regionalPremium: true,
    contextWindow: 1_000_000,
  }),
  'anthropic.claude-fable-5': claude(10, 50, 128_000, known(TODAY, CLAUDE_DOCS), {
    regionalPremium: true,
    contextWindow: 1_000_000,
  }),
  'anthropic.claude-fable-5-1': claude(
    10,
    50,
    128_000,
    seen('https://platform.claude.com/docs/en/models/sonnet-5-5/overview'),
    { regionalPremium: true, contextWindow: 1_000_000 },
  ),
  'anthropic.claude-fable-5-2': claude(
    8,
    40,
    128_000,
    seen('https://platform.claude.com/docs/id/models/sonnet-5/overview.md'),
    { regionalPremium: true, contextWindow: 1_000_000 },
  ),
  // Amazon Nova
  'amazon.nova-micro-v1:0': nova(
    0.035,
    0.14,
    5000,
    128_000,
    seen('https://atonementlicensing.pages.dev/blog/aws-bedrock-pricing-2026/'),
  ),
  'amazon.nova-lite-v1:0': nova(
    0.06,
    0.24,
    5000,
    300_000,
    seen('https://docs.aws.eu/bedrock/latest/userguide/model-card-amazon-nova-lite.html'),
  ),
  'amazon.nova-pro-v1:0': nova(
    0.8,
    3.2,
    5000,
    300_000,
    seen('https://atonementlicensing.pages.dev/blog/aws-bedrock-pricing-2026/'),
  ),
  'amazon.nova-premier-v1:0': nova(2.5, 12.5, 25_000, 1_000_000, known(EARLIER)),
  'amazon.nova-2-lite-v1:0': nova(0.33, 2.75, 64_000, 1_000_000, known()),
  // Meta Llama
  'meta.llama3-8b-instruct-v1:0': plain(0.3, 0.6, 2048, 8192, known(EARLIER)),
  'meta.llama3-70b-instruct-v1:0': plain(2.65, 3.5, 2048, 8192, known(EARLIER)),
  'meta.llama3-1-8b-instruct-v1:0': plain(
    0.22,
    0.32,
    2048,
    128_000,
    seen('https://deploybase.ai/articles/amazon-bedrock-pricing'),
  ),
  'meta.llama3-1-70b-instruct-v1:0': plain(
    0.72,
    2.2,
    2048,
    128_000,
    seen('https://deploybase.ai/articles/amazon-bedrock-pricing'),
  ),
  'meta.llama3-1-405b-instruct-v1:0': plain(
    5.32,
    16,
    2048,
    128_000,
    seen('https://atonementlicensing.pages.dev/blog/aws-bedrock-pricing-2026/'),
  ),
  'meta.llama3-2-1b-instruct-v1:0': plain(0.1, 0.1, 2048, 128_000, known(EARLIER)),
  'meta.llama3-2-3b-instruct-v1:0': plain(0.15, 0.15, 2048, 128_000, known(EARLIER)),
  'meta.llama3-2-11b-instruct-v1:0': plain(0.16, 0.16, 2048, 128_000, known(EARLIER)),
  'meta.llama3-2-90b-instruct-v1:0': plain(0.72, 0.72, 2048, 128_000, known(EARLIER)),
  'meta.llama3-3-70b-instruct-v1:0': plain(
    2.65,
    0.72,
    2048,
    128_000,
    seen('https://tokenmix.ai/blog/aws-bedrock-pricing'),
  ),
  'meta.llama4-scout-17b-instruct-v1:0': plain(0.17, 0.66, 8192, undefined, known(EARLIER)),
  'meta.llama4-maverick-17b-instruct-v1:0': plain(0.24, 0.97, 8192, 1_000_000, known(EARLIER)),
  // Mistral
  'mistral.mistral-7b-instruct-v0:2': plain(0.15, 0.2, 4096, 32_000, known(EARLIER)),
  'mistral.mixtral-8x7b-instruct-v0:1': plain(0.45, 0.7, 4096, 32_000, known(EARLIER)),
  'mistral.mistral-large-2402-v1:0': plain(4, 12, 8192, 32_000, known(EARLIER)),
  'mistral.mistral-large-2407-v1:0': plain(
    2,
    6,
    8192,
    128_000,
    seen('https://atonementlicensing.pages.dev/blog/aws-bedrock-pricing-2026/'),
  ),
  'mistral.mistral-small-2402-v1:0': plain(1, 3, 8192, 32_000, known(EARLIER)),
  'mistral.pixtral-large-2502-v1:0': plain(2, 6, 8192, 128_000, known()),
  // Amazon Titan
  'amazon.titan-text-lite-v1': plain(0.15, 0.2, 4096, 4096, known(EARLIER)),
  'amazon.titan-text-express-v1': plain(0.2, 0.6, 8192, 8192, known(EARLIER)),
  'amazon.titan-text-premier-v1:0': plain(
    0.5,
    1.5,
    3072,
    32_000,
    seen('https://atonementlicensing.pages.dev/blog/aws-bedrock-pricing-2026/'),
  ),
  // OpenAI open-weight (Priority and Flex tiers)
  'openai.gpt-oss-120b-1:0': plain(0.15, 0.6, 32_768, 128_000, known(), FLEX_HALF),
  'openai.gpt-oss-20b-1:0': plain(0.07, 0.3, 32_768, 128_000, known(), FLEX_HALF),
  // DeepSeek
  'deepseek.r1-v1:0': plain(1.35, 5.4, 32_768, 128_000, known()),
  'deepseek.v3-v1:0': plain(0.58, 1.68, 32_768, 128_000, known(), FLEX_HALF),
  // Qwen
  'qwen.qwen3-235b-a22b-2507-v1:0': plain(0.22, 0.88, 32_768, 256_000, known(), FLEX_HALF),
  'qwen.qwen3-coder-480b-a35b-v1:0': plain(0.45, 1.8, 32_768, 256_000, known(), FLEX_HALF),
  'qwen.qwen3-32b-v1:0': plain(0.15, 0.6, 16_384, 128_000, known(), FLEX_HALF),
  'qwen.qwen3-coder-30b-a3b-v1:0': plain(0.15, 0.6, 32_768, 256_000, known(), FLEX_HALF),
  // Google Gemma
  'google.gemma-3-4b-it': plain(0.04, 0.08, 8192, 128_000, known()),
  'google.gemma-3-12b-it': plain(0.09, 0.29, 8192, 128_000, known()),
  'google.gemma-3-27b-it': plain(0.23, 0.38, 8192, 128_000, known()),
  // Cohere
  'cohere.command-r-v1:0': plain(0.5, 1.5, 4096, 128_000, known()),
  'cohere.command-r-plus-v1:0': plain(
    3,
    15,
    4096,
    128_000,
    seen('https://atonementlicensing.pages.dev/blog/aws-bedrock-pricing-2026/'),
  ),
  // AI21 Labs
  'ai21.jamba-1-5-large-v1:0': plain(
    2,
    8,
    4096,
    256_000,
    seen('https://atonementlicensing.pages.dev/blog/aws-bedrock-pricing-2026/'),
  ),
  'ai21.jamba-1-5-mini-v1:0': plain(0.2, 0.4, 4096, 256_000, known()),
  // Writer
  'writer.palmyra-x4-v1:0': plain(2.5, 10, 8192, 128_000, known()),
  'writer.palmyra-x5-v1:0': plain(0.6, 6, 8192, 1_000_000, known()),
  // Moonshot, MiniMax
  'moonshot.kimi-k2-thinking': plain(0.6, 2.5, 16_384, 256_000, known()),
  'minimax.minimax-m2': plain(0.3, 1.2, 16_384, 196_608, known()),
});
