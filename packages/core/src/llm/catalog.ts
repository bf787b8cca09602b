import { InvalidConfigError, ModelNotPricedError } from '../protocol/errors.ts';
import { BEDROCK_PRICES, BEDROCK_PRICES_VERSION } from './bedrock-prices.ts';
import type { ModelPrice, TokenRates } from './cost.ts';
import { idVariants, type ModelFamily, normalizeModelId } from './model-id.ts';
import {
  type AppliedDimensions,
  type CallRates,
  callRates,
  checkDimensions,
  type PriceDimensions,
} from './price-dimensions.ts';
import { type PriceOverride, readPricesFile } from './prices-file.ts';

export type { ModelPrice } from './cost.ts';
export type { ModelFamily } from './model-id.ts';
export type { PriceOverride } from './prices-file.ts';

/** A model id resolved to its canonical base id, family, price and the rates of this call. */
export interface ResolvedModel {
  /** The id as the caller passed it (ARN, inference profile, any case). */
  requestedId: string;
  /** Canonical base id, e.g. `anthropic.claude-3-5-haiku-20241022-v1:0`. */
  modelId: string;
  family: ModelFamily;
  /** The catalog entry (standard tier, geo/in-region rates, and the dimensions that change them). */
  price: ModelPrice;
  /** The rates this call is reserved and committed at (endpoint, region and service tier applied). */
  rates: CallRates;
  /** The dimensions the rates were computed with. */
  dimensions: AppliedDimensions;
  /** Version of the prices used (built-in table, prices file or `version` option). */
  priceVersion: string;
  /** Set when an unknown model was priced by the `unknownModels` policy: the model or `maximum` used. */
  pricedAs?: string;
}

/** Looks up model prices; built by {@link createPriceCatalog}. */
export interface PriceCatalog {
  /**
   * Price of a model id, ARN or inference profile under the request's dimensions; throws
   * `ModelNotPricedError` when it has none (and no `unknownModels` policy prices it).
   */
  resolve(modelId: string, dimensions?: PriceDimensions): ResolvedModel;
  /** Whether {@link PriceCatalog.resolve} would succeed. */
  has(modelId: string): boolean;
  /** Version of the prices in use; changes when {@link PriceCatalog.reload} loads new ones. */
  readonly version: string;
  /**
   * Re-reads the prices file (or the `pricesFile` given here) and swaps the table in one step; an
   * invalid file throws InvalidConfigError and the old prices stay. Calls already begun keep theirs.
   * Returns the new version.
   */
  reload(pricesFile?: string): string;
}

/**
 * What to do with a model the catalog has no price for. Refused by default; never priced at $0.
 * - `{ priceAs: '<model id>' }`: price it like that (known) model.
 * - `{ maximum: { inputPerMillion, outputPerMillion, maxOutputTokens } }`: price it at these stated rates.
 */
export type UnknownModelPolicy =
  | 'refuse'
  | { priceAs: string }
  | {
      maximum: Pick<ModelPrice, 'inputPerMillion' | 'outputPerMillion' | 'maxOutputTokens'> &
        Partial<TokenRates>;
    };

/** Options of {@link createPriceCatalog}. */
export interface PriceCatalogOptions {
  /**
   * Prices by model id (normalized like lookups, so `us.`-prefixed ids and ARNs work), in USD microcents
   * per 1M tokens. They win over the defaults and the prices file field by field; omitted fields keep
   * the default (cache prices included, so set them too when you change a Claude input price). A model
   * not in the Bedrock table (or any model when `includeBedrockDefaults` is false) also needs `maxOutputTokens`.
   */
  prices?: Record<string, PriceOverride>;
  /** Include {@link BEDROCK_PRICES}. @default true */
  includeBedrockDefaults?: boolean;
  /** A prices file (JSON, see `prices.schema.json`) read at creation and by `reload()`. */
  pricesFile?: string;
  /** Names the prices; @default the prices file's version, else the built-in table's (`builtin-<date>`) */
  version?: string;
  /**
   * Application inference profile ARNs and the model each runs, e.g.
   * `{ 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc': 'anthropic.claude-sonnet-4-6' }`.
   */
  inferenceProfiles?: Record<string, string>;
  /** @default 'refuse' */
  unknownModels?: UnknownModelPolicy;
}

/** Most distinct requested ids whose resolution is remembered. */
const MAX_RESOLVED_IDS = 1000;

const PRICE_FIELDS = [
  'inputPerMillion',
  'outputPerMillion',
  'cacheReadPerMillion',
  'cacheWritePerMillion',
  'cacheWrite1hPerMillion',
  'maxOutputTokens',
  'contextWindow',
  'priorityPercent',
  'flexPercent',
] as const;
const RATE_FIELDS = [
  'inputPerMillion',
  'outputPerMillion',
  'cacheReadPerMillion',
  'cacheWritePerMillion',
  'cacheWrite1hPerMillion',
] as const;

function positive(field: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new InvalidConfigError(
      `${field} must be a positive integer (USD microcents per 1M tokens for prices, e.g. $3.00/M = ` +
        `300000000; tokens for limits; percent for tiers), got ${String(value)}`,
      { details: { field } },
    );
  }
}

function checkRates(field: string, rates: Partial<TokenRates> | undefined): void {
  for (const name of RATE_FIELDS) {
    const value = rates?.[name];
    if (value !== undefined) positive(`${field}.${name}`, value);
  }
}

function merge(key: string, base: ModelPrice | undefined, override: PriceOverride): ModelPrice {
  const merged: Partial<ModelPrice> = { ...base };
  for (const field of PRICE_FIELDS) {
    const value = override[field];
    if (value === undefined) continue;
    positive(`prices.${key}.${field}`, value);
    merged[field] = value;
  }
  if (override.global !== undefined) {
    checkRates(`prices.${key}.global`, override.global);
    merged.global = { ...base?.global, ...override.global };
  }
  for (const [region, rates] of Object.entries(override.regions ?? {})) {
    checkRates(`prices.${key}.regions.${region}`, rates);
    merged.regions = { ...merged.regions, [region]: { ...base?.regions?.[region], ...rates } };
  }
  if (override.longContext !== undefined) {
    const { aboveInputTokens, inputPercent, outputPercent } = override.longContext;
    positive(`prices.${key}.longContext.aboveInputTokens`, aboveInputTokens);
    positive(`prices.${key}.longContext.inputPercent`, inputPercent);
    positive(`prices.${key}.longContext.outputPercent`, outputPercent);
    merged.longContext = { aboveInputTokens, inputPercent, outputPercent };
  }
  for (const field of ['source', 'asOf', 'verified'] as const) {
    if (override[field] !== undefined) (merged as Record<string, unknown>)[field] = override[field];
  }
  for (const field of ['inputPerMillion', 'outputPerMillion', 'maxOutputTokens'] as const) {
    if (merged[field] === undefined) {
      throw new InvalidConfigError(
        `prices['${key}'].${field} is required: '${key}' is not in the Bedrock price table, so ` +
          `${field === 'maxOutputTokens' ? 'its output ceiling' : 'its price'} is unknown`,
        { details: { field: `prices.${key}.${field}` } },
      );
    }
  }
  return Object.freeze(merged as ModelPrice);
}

/** The table and version a catalog prices from; swapped whole on reload. */
interface PriceTable {
  models: Map<string, ModelPrice>;
  version: string;
}

function buildTable(options: PriceCatalogOptions, pricesFile: string | undefined): PriceTable {
  const includeDefaults = options.includeBedrockDefaults ?? true;
  const models = new Map<string, ModelPrice>(includeDefaults ? Object.entries(BEDROCK_PRICES) : []);
  const file = pricesFile === undefined ? undefined : readPricesFile(pricesFile);
  for (const layer of [file?.prices, options.prices]) {
    for (const [id, override] of Object.entries(layer ?? {})) {
      const { modelId } = normalizeModelId(id);
      models.set(modelId, merge(modelId, models.get(modelId), override));
    }
  }
  const version = options.version ?? file?.version ?? (includeDefaults ? BEDROCK_PRICES_VERSION : 'custom');
  return { models, version };
}

function lookup(models: Map<string, ModelPrice>, modelId: string): [string, ModelPrice] | undefined {
  const price = models.get(modelId);
  if (price !== undefined) return [modelId, price];
  for (const variant of idVariants(modelId)) {
    const found = models.get(variant);
    if (found !== undefined) return [variant, found];
  }
  return undefined;
}

function checkPolicy(policy: UnknownModelPolicy, models: Map<string, ModelPrice>): void {
  if (policy === 'refuse') return;
  if (typeof policy === 'object' && policy !== null && 'priceAs' in policy) {
    if (lookup(models, normalizeModelId(policy.priceAs).modelId) === undefined) {
      throw new InvalidConfigError(
        `unknownModels.priceAs names '${policy.priceAs}', which has no price: name a priced model`,
        { details: { field: 'unknownModels.priceAs' } },
      );
    }
    return;
  }
  if (typeof policy === 'object' && policy !== null && 'maximum' in policy) {
    for (const field of [...RATE_FIELDS, 'maxOutputTokens'] as const) {
      const value = policy.maximum[field];
      if (
        value !== undefined ||
        field === 'inputPerMillion' ||
        field === 'outputPerMillion' ||
        field === 'maxOutputTokens'
      )
        positive(`unknownModels.maximum.${field}`, value);
    }
    return;
  }
  throw new InvalidConfigError(
    "unknownModels must be 'refuse', { priceAs: '<model id>' } or { maximum: { inputPerMillion, outputPerMillion, maxOutputTokens } }",
    { details: { field: 'unknownModels' } },
  );
}

/**
 * Builds a price catalog from the Bedrock on-demand table ({@link BEDROCK_PRICES}), an optional prices
 * file and your overrides. Lookups normalize ids (ARNs, cross-region profiles, case, `-v1:0` suffixes)
 * and apply the request's dimensions; an unknown model throws `ModelNotPricedError` rather than being
 * counted as free, unless an explicit `unknownModels` policy prices it.
 */
export function createPriceCatalog(options: PriceCatalogOptions = {}): PriceCatalog {
  let pricesFile = options.pricesFile;
  let table = buildTable(options, pricesFile);
  const policy = options.unknownModels ?? 'refuse';
  checkPolicy(policy, table.models);
  const profiles = new Map<string, string>();
  for (const [arn, modelId] of Object.entries(options.inferenceProfiles ?? {})) {
    const profile = normalizeModelId(arn);
    if (profile.applicationProfile !== true) {
      throw new InvalidConfigError(
        `inferenceProfiles key '${arn}' is not an application inference profile ARN ` +
          '(arn:aws:bedrock:<region>:<account>:application-inference-profile/<id>)',
        { details: { field: 'inferenceProfiles' } },
      );
    }
    profiles.set(profile.modelId, modelId);
  }

  // Every guarded call resolves its model id, usually one of a handful: remember the answers.
  let resolved = new Map<string, ResolvedModel>();

  function resolveUncached(requestedId: string, dimensions: PriceDimensions | undefined): ResolvedModel {
    checkDimensions(dimensions);
    const requested = normalizeModelId(requestedId);
    const mapped = requested.applicationProfile ? profiles.get(requested.modelId) : undefined;
    const target = mapped === undefined ? requested : normalizeModelId(mapped);
    const found = lookup(table.models, target.modelId);
    let modelId = found?.[0] ?? target.modelId;
    let price = found?.[1];
    let pricedAs: string | undefined;
    if (price === undefined && policy !== 'refuse') {
      if ('priceAs' in policy) {
        const named = lookup(table.models, normalizeModelId(policy.priceAs).modelId);
        price = named?.[1];
        pricedAs = named?.[0];
      } else {
        price = Object.freeze({ ...policy.maximum });
        pricedAs = 'maximum';
      }
    }
    if (price === undefined)
      throw notPriced(requestedId, target.modelId, requested.applicationProfile === true);
    if (pricedAs === undefined) modelId = found?.[0] ?? modelId;
    const applied: AppliedDimensions = Object.freeze({
      // An application profile hides whether it copies a global profile: price it as regional (dearer).
      endpoint: mapped === undefined ? requested.endpoint : target.endpoint,
      serviceTier: dimensions?.serviceTier ?? 'default',
      cacheTtl: dimensions?.cacheTtl ?? '5m',
      region: requested.region ?? dimensions?.region,
    });
    const model: ResolvedModel = {
      requestedId,
      modelId,
      family: target.family,
      price,
      rates: Object.freeze(callRates(price, applied)),
      dimensions: applied,
      priceVersion: table.version,
    };
    if (pricedAs !== undefined) model.pricedAs = pricedAs;
    return Object.freeze(model);
  }

  return {
    resolve(requestedId: string, dimensions?: PriceDimensions): ResolvedModel {
      const key =
        dimensions === undefined
          ? requestedId
          : `${requestedId}\u0000${dimensions.serviceTier ?? ''}\u0000${dimensions.cacheTtl ?? ''}\u0000${dimensions.region ?? ''}`;
      const known = resolved.get(key);
      if (known !== undefined) return known;
      const model = resolveUncached(requestedId, dimensions);
      // Shared between calls, so frozen; bounded, since ids may come from untrusted requests.
      if (resolved.size >= MAX_RESOLVED_IDS) resolved.clear();
      resolved.set(key, model);
      return model;
    },
    has(requestedId: string): boolean {
      if (resolved.has(requestedId)) return true;
      try {
        resolveUncached(requestedId, undefined);
        return true;
      } catch {
        return false;
      }
    },
    get version() {
      return table.version;
    },
    reload(file?: string): string {
      const next = buildTable(options, file ?? pricesFile);
      checkPolicy(policy, next.models);
      // Validated whole before anything changes; then one swap (and the remembered answers go).
      table = next;
      if (file !== undefined) pricesFile = file;
      resolved = new Map();
      return table.version;
    },
  };
}

function notPriced(requestedId: string, modelId: string, applicationProfile: boolean): ModelNotPricedError {
  const how = applicationProfile
    ? `It is an application inference profile: map it with createCycles({ inferenceProfiles: { '${requestedId}': '<model id>' } }) ` +
      "or the bedrock plugin's `resolveInferenceProfile` option."
    : `Price it with createCycles({ prices: { '${modelId}': { inputPerMillion, outputPerMillion, maxOutputTokens } } }) ` +
      '(USD microcents per 1M tokens: $3.00/M = 300000000), a prices file, or an explicit unknownModels policy.';
  return new ModelNotPricedError(
    `No price for Bedrock model '${requestedId}'${modelId === requestedId ? '' : ` (base id '${modelId}')`}. ${how} ` +
      'It is refused rather than counted as $0.',
    { details: { modelId: requestedId, normalizedModelId: modelId } },
  );
}
