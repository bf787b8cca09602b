// @cycles-guard/core/llm: what an adapter (bedrock, ai-sdk, langchain, express, nestjs) needs to build a
// guarded LLM call: input estimation, model ids, per-dimension prices and cost math, the call outcome and
// who charged it, stream settlement, unbilled-failure detection, subject merging and balance reads for
// response headers. Apps use the adapters (or `createCycles`) and do not need it.

export { DEFAULT_MIN_OUTPUT_TOKENS } from '../config.ts';
export type {
  BudgetErrorBody,
  BudgetErrorResponse,
  BudgetErrorResponseOptions,
} from '../http/budget-error-response.ts';
export { tightestBalance } from '../http/remaining-budget.ts';
export { readSubjectBalances } from '../http/subject-balances.ts';
export { planOverage } from '../ledger/commit-math.ts';
export { mergeSubjects } from '../lifecycle/budget-context.ts';
export {
  GEN_AI_ATTRIBUTES,
  TELEMETRY_ATTRIBUTES,
  TELEMETRY_METRICS,
  TELEMETRY_SCOPE,
} from '../telemetry/index.ts';
export { BEDROCK_PRICES, BEDROCK_PRICES_SOURCE, BEDROCK_PRICES_VERSION } from './bedrock-prices.ts';
export type { LlmCall, LlmCallFailure, LlmCallOptions } from './call-guard.ts';
export { chargedBy, llmCallOutcome } from './call-outcome.ts';
export type {
  PriceCatalog,
  PriceCatalogOptions,
  PriceOverride,
  ResolvedModel,
  UnknownModelPolicy,
} from './catalog.ts';
export {
  type LongContextRates,
  type ModelPrice,
  maxAffordableOutputTokens,
  type TokenRates,
  type TokenUsage,
  tokenCost,
  usageCost,
  usageTokens,
} from './cost.ts';
export { ESTIMATE_RULE, type EstimateInput, estimateInputTokens } from './estimate-tokens.ts';
export { type ModelFamily, type NormalizedModelId, normalizeModelId } from './model-id.ts';
export {
  type AppliedDimensions,
  AWS_REGION,
  type CacheTtl,
  type CallRates,
  type Endpoint,
  type PriceDimensions,
  type ServiceTier,
} from './price-dimensions.ts';
export {
  type LoadedPrices,
  type PricesFile,
  type PricesFileModel,
  type PricesFileRates,
  parsePricesFile,
  readPricesFile,
} from './prices-file.ts';
export { StreamSettler, type StreamSettlerOptions } from './stream-settler.ts';
export { failedBeforeConnecting, isUnbilledFailure } from './unbilled.ts';
