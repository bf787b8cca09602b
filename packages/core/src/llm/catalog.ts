import { InvalidConfigError, ModelNotPricedError } from '../protocol/errors.ts';
import { BEDROCK_PRICES } from './bedrock-prices.ts';
import type { ModelPrice } from './cost.ts';
import { type ModelFamily, normalizeModelId } from './model-id.ts';

export type { ModelPrice } from './cost.ts';
export type { ModelFamily } from './model-id.ts';

/** A model id resolved to its canonical base id, family and price. */
export interface ResolvedModel {
  /** The id as the caller passed it (ARN, inference profile, any case). */
  requestedId: string;
  /** Canonical base id, e.g. `anthropic.claude-3-5-haiku-20241022-v1:0`. */
  modelId: string;
  family: ModelFamily;
  price: ModelPrice;
}

/** Looks up model prices; built by {@link createPriceCatalog}. */
export interface PriceCatalog {
  /** Price of a model id, ARN or inference profile; throws `ModelNotPricedError` when it has none. */
  resolve(modelId: string): ResolvedModel;
  /** Whether {@link PriceCatalog.resolve} would succeed. */
  has(modelId: string): boolean;
}

/** A user-supplied price: input and output are required; other fields default from the catalog's existing entry. */
export type PriceOverride = Partial<ModelPrice> & Pick<ModelPrice, 'inputPerMillion' | 'outputPerMillion'>;

/** Options of {@link createPriceCatalog}. */
export interface PriceCatalogOptions {
  /**
   * Prices by model id (normalized like lookups, so `us.`-prefixed ids and ARNs work), in USD microcents
   * per 1M tokens. They win over the defaults field by field; omitted fields keep the default (cache
   * prices included, so set them too when you change a Claude input price). A model not in the Bedrock
   * table (or any model when `includeBedrockDefaults` is false) also needs `maxOutputTokens`.
   */
  prices?: Record<string, PriceOverride>;
  /** Include {@link BEDROCK_PRICES}. @default true */
  includeBedrockDefaults?: boolean;
}

/** Most distinct requested ids whose resolution is remembered. */
const MAX_RESOLVED_IDS = 1000;

const PRICE_FIELDS = [
  'inputPerMillion',
  'outputPerMillion',
  'cacheReadPerMillion',
  'cacheWritePerMillion',
  'maxOutputTokens',
  'contextWindow',
] as const;

function merge(key: string, base: ModelPrice | undefined, override: PriceOverride): ModelPrice {
  const merged: Partial<ModelPrice> = { ...base };
  for (const field of PRICE_FIELDS) {
    const value = override[field];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new InvalidConfigError(
        `prices['${key}'].${field} must be a positive integer (USD microcents per 1M tokens for prices, ` +
          `e.g. $3.00/M = 300000000; tokens for limits), got ${String(value)}`,
        { details: { field: `prices.${key}.${field}` } },
      );
    }
    merged[field] = value;
  }
  if (merged.maxOutputTokens === undefined) {
    throw new InvalidConfigError(
      `prices['${key}'].maxOutputTokens is required: '${key}' is not in the Bedrock price table, so its output ceiling is unknown`,
      { details: { field: `prices.${key}.maxOutputTokens` } },
    );
  }
  return merged as ModelPrice;
}

/**
 * Builds a price catalog from the Bedrock on-demand table ({@link BEDROCK_PRICES}) and your overrides.
 * Lookups normalize ids (ARNs, cross-region profiles, case); an unknown model throws
 * `ModelNotPricedError` rather than being counted as free.
 */
export function createPriceCatalog(options: PriceCatalogOptions = {}): PriceCatalog {
  const includeDefaults = options.includeBedrockDefaults ?? true;
  const table = new Map<string, ModelPrice>(includeDefaults ? Object.entries(BEDROCK_PRICES) : []);
  for (const [id, override] of Object.entries(options.prices ?? {})) {
    const { modelId } = normalizeModelId(id);
    table.set(modelId, Object.freeze(merge(modelId, table.get(modelId), override)));
  }

  // Every guarded call resolves its model id, usually one of a handful: remember the answers.
  const resolved = new Map<string, ResolvedModel>();
  return {
    resolve(requestedId: string): ResolvedModel {
      const known = resolved.get(requestedId);
      if (known !== undefined) return known;
      const { modelId, family } = normalizeModelId(requestedId);
      const price = table.get(modelId);
      if (price === undefined) {
        throw new ModelNotPricedError(
          `No price for Bedrock model '${requestedId}'${modelId === requestedId ? '' : ` (base id '${modelId}')`}. ` +
            `Price it with createCycles({ prices: { '${modelId}': { inputPerMillion, outputPerMillion, maxOutputTokens } } }) ` +
            '(USD microcents per 1M tokens: $3.00/M = 300000000). It is refused rather than counted as $0.',
          { details: { modelId: requestedId, normalizedModelId: modelId } },
        );
      }
      // Shared between calls, so frozen; bounded, since ids may come from untrusted requests.
      if (resolved.size >= MAX_RESOLVED_IDS) resolved.clear();
      const model = Object.freeze({ requestedId, modelId, family, price });
      resolved.set(requestedId, model);
      return model;
    },
    has(requestedId: string): boolean {
      return resolved.has(requestedId) || table.has(normalizeModelId(requestedId).modelId);
    },
  };
}
