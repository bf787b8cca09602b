// @cycles-guard/bedrock public API.

export type { LlmCallOutcome } from '@cycles-guard/core';
export {
  type CountTokensSender,
  type CyclesBedrockOptions,
  cyclesBedrockMiddleware,
  cyclesBedrockMiddlewareOptions,
  getCyclesResult,
} from './middleware.ts';
export { createGuardedBedrockClient, cyclesBedrockPlugin } from './plugin.ts';
export { fetchBedrockPriceList, type PricingClientLike } from './prices/fetch-price-list.ts';
export {
  PRICE_LIST_MODEL_NAMES,
  type PriceListConversion,
  type PriceListOptions,
  type PriceListRate,
  pricesFromPriceList,
  readPriceListEntry,
} from './prices/price-list.ts';
export {
  createInferenceProfileResolver,
  type InferenceProfileClient,
  type InferenceProfileResolver,
  type InferenceProfileResolverOptions,
} from './profiles.ts';
export { cyclesBedrockResponseMiddleware, cyclesBedrockResponseMiddlewareOptions } from './response.ts';
