import { invalid } from '../protocol/errors.ts';

/** Per-token rates in USD_MICROCENTS per 1,000,000 tokens (1 USD = 100,000,000 microcents; $3.00/M = 300,000,000). */
export interface TokenRates {
  /** Price of 1M non-cached input tokens. */
  inputPerMillion: number;
  /** Price of 1M output tokens. */
  outputPerMillion: number;
  /** Price of 1M tokens read from the prompt cache; the input price when absent. */
  cacheReadPerMillion?: number;
  /** Price of 1M tokens written to the prompt cache with the default 5-minute TTL; the input price when absent. */
  cacheWritePerMillion?: number;
  /** Price of 1M tokens written to the prompt cache with a 1-hour TTL; the 5-minute write price when absent. */
  cacheWrite1hPerMillion?: number;
}

/** Input above `aboveInputTokens` (all input of the call, cached included) bills every token at a higher rate. */
export interface LongContextRates {
  /** Threshold in input tokens (e.g. 200,000); a call with more input is billed at the long-context rates. */
  aboveInputTokens: number;
  /** Input and cache rates as a percentage of the standard ones (e.g. 200 = twice). */
  inputPercent: number;
  /** Output rate as a percentage of the standard one (e.g. 150). */
  outputPercent: number;
}

/**
 * A model's prices: standard-tier rates of an in-region or geo (cross-region) call, plus the dimensions
 * that change them. Rates in USD_MICROCENTS per 1M tokens ($3.00/M = 300,000,000).
 */
export interface ModelPrice extends TokenRates {
  /** The model's own output ceiling (what Bedrock holds when no limit is sent). */
  maxOutputTokens: number;
  /** Input context window in tokens, when known. */
  contextWindow?: number;
  /** Rates of a `global.` inference profile, where they differ (e.g. ~10 % below geo for recent Claude). */
  global?: Partial<TokenRates>;
  /** Rates of in-region and geo calls from a source region that prices differently (key: `eu-west-2`). */
  regions?: Record<string, Partial<TokenRates>>;
  /** Priority tier as a percentage of the standard rates. @default 175 (over-reserves models priced lower) */
  priorityPercent?: number;
  /** Flex tier as a percentage of the standard rates. @default 100 (no discount unless one is known) */
  flexPercent?: number;
  /** Long-context rates, for models that bill large inputs higher. */
  longContext?: LongContextRates;
  /** Where the figures come from (a page or the Price List API). */
  source?: string;
  /** The date the figures were read, `YYYY-MM-DD`. */
  asOf?: string;
  /** True when the figures were checked against a source on `asOf`; false for best-known list prices. */
  verified?: boolean;
}

/** Token counts of one call, as Bedrock reports them. */
export interface TokenUsage {
  /** Non-cached input tokens (Bedrock's `inputTokens`). */
  inputTokens: number;
  outputTokens: number;
  cacheReadInputTokens?: number;
  /** All tokens written to the prompt cache, whatever their TTL. */
  cacheWriteInputTokens?: number;
  /** The part of `cacheWriteInputTokens` written with a 1-hour TTL (priced at the 1-hour write rate). */
  cacheWrite1hInputTokens?: number;
}

const MILLION = 1_000_000;
const BIG_MILLION = 1_000_000n;
/** Largest r for which r * 1,000,000 is still a safe integer. */
const MAX_SAFE_MILLIONTHS = Math.floor(Number.MAX_SAFE_INTEGER / MILLION);

function checkCount(field: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw invalid(field, `must be a non-negative safe integer, got ${String(value)}`);
  }
}

function checkResult(field: string, value: number): number {
  if (!Number.isSafeInteger(value)) {
    throw invalid(field, 'exceeds Number.MAX_SAFE_INTEGER microcents', 'split the usage or lower the prices');
  }
  return value;
}

/**
 * Exact cost of `tokens` tokens at `perMillion` microcents per 1M tokens: `ceil(tokens * perMillion / 1e6)`,
 * in integer arithmetic (BigInt when the product is not a safe integer). Both arguments must be
 * non-negative safe integers.
 */
export function tokenCost(tokens: number, perMillion: number): number {
  checkCount('tokens', tokens);
  checkCount('perMillion', perMillion);
  if (tokens === 0 || perMillion <= Math.floor(Number.MAX_SAFE_INTEGER / tokens)) {
    const product = tokens * perMillion;
    const remainder = product % MILLION;
    return (product - remainder) / MILLION + (remainder > 0 ? 1 : 0);
  }
  const product = BigInt(tokens) * BigInt(perMillion);
  return checkResult('cost', Number((product + BIG_MILLION - 1n) / BIG_MILLION));
}

/**
 * Cost of one call's usage: the exact sum of every component at its price, rounded up once (so a
 * commit never passes a hold rounded the same way by a microcent per component). Cache reads and writes
 * are priced at their own prices, or at the input price when the model has none (never at $0).
 */
export function usageCost(usage: TokenUsage, price: TokenRates): number {
  const writes = usage.cacheWriteInputTokens ?? 0;
  // A 1-hour count above the total is inconsistent: charge it all at the 1-hour rate (never under).
  const writes1h = usage.cacheWrite1hInputTokens ?? 0;
  const writeRate = price.cacheWritePerMillion ?? price.inputPerMillion;
  const parts: [number, number][] = [
    [usage.inputTokens, price.inputPerMillion],
    [usage.outputTokens, price.outputPerMillion],
    [usage.cacheReadInputTokens ?? 0, price.cacheReadPerMillion ?? price.inputPerMillion],
    [Math.max(0, writes - writes1h), writeRate],
    [writes1h, price.cacheWrite1hPerMillion ?? writeRate],
  ];
  let millionths = 0;
  for (const [tokens, perMillion] of parts) {
    checkCount('tokens', tokens);
    checkCount('perMillion', perMillion);
    if (tokens !== 0 && perMillion > Math.floor(Number.MAX_SAFE_INTEGER / tokens)) return bigUsageCost(parts);
    millionths += tokens * perMillion;
    if (millionths > Number.MAX_SAFE_INTEGER) return bigUsageCost(parts);
  }
  const remainder = millionths % MILLION;
  return checkResult('cost', (millionths - remainder) / MILLION + (remainder > 0 ? 1 : 0));
}

/** {@link usageCost} when a product or the sum leaves the safe-integer range. */
function bigUsageCost(parts: readonly [number, number][]): number {
  let millionths = 0n;
  for (const [tokens, perMillion] of parts) millionths += BigInt(tokens) * BigInt(perMillion);
  return checkResult('cost', Number((millionths + BIG_MILLION - 1n) / BIG_MILLION));
}

/** Total tokens of one call (all input including cache reads and writes, plus output), for TOKENS budgets. */
export function usageTokens(usage: TokenUsage): number {
  const parts = [
    ['inputTokens', usage.inputTokens],
    ['outputTokens', usage.outputTokens],
    ['cacheReadInputTokens', usage.cacheReadInputTokens ?? 0],
    ['cacheWriteInputTokens', usage.cacheWriteInputTokens ?? 0],
  ] as const;
  let total = 0;
  for (const [field, count] of parts) {
    checkCount(field, count);
    total += count;
  }
  return checkResult('tokens', total);
}

/**
 * Largest `n >= 0` with `inputCost + tokenCost(n, price.outputPerMillion) <= budget`, exactly. Returns 0
 * when the input alone does not fit (check `inputCost > budget` yourself to tell that apart), and
 * `Number.MAX_SAFE_INTEGER` when output is free or the answer would not be a safe integer. It does not
 * apply `price.maxOutputTokens`: take the minimum with it.
 */
export function maxAffordableOutputTokens(budget: number, inputCost: number, price: TokenRates): number {
  if (!Number.isSafeInteger(budget)) throw invalid('budget', `must be a safe integer, got ${String(budget)}`);
  checkCount('inputCost', inputCost);
  const perMillion = price.outputPerMillion;
  checkCount('outputPerMillion', perMillion);
  const remaining = budget - inputCost;
  if (remaining < 0) return 0;
  if (perMillion === 0) return Number.MAX_SAFE_INTEGER;
  // ceil(n * p / 1e6) <= r  <=>  n * p <= r * 1e6  <=>  n <= floor(r * 1e6 / p)
  if (remaining <= MAX_SAFE_MILLIONTHS) {
    const scaled = remaining * MILLION;
    return (scaled - (scaled % perMillion)) / perMillion;
  }
  const n = (BigInt(remaining) * BIG_MILLION) / BigInt(perMillion);
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}
