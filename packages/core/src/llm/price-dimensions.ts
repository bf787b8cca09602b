import { invalid } from '../protocol/errors.ts';
import type { ModelPrice, TokenRates } from './cost.ts';

// The request-level facts that change what Bedrock bills for the same tokens, and how they turn a
// catalog entry into the rates one call is reserved and committed at.

/** Bedrock's `serviceTier` (`default` is the standard tier). */
export type ServiceTier = 'default' | 'priority' | 'flex' | 'reserved';
/** Prompt-cache write TTL of a cache point (`5m` unless the request sets `ttl: '1h'`). */
export type CacheTtl = '5m' | '1h';
/** How the call reaches the model: a `global.` profile, a geo profile (`us.`, `eu.`, ...) or in-region. */
export type Endpoint = 'global' | 'geo' | 'in-region';

/** What a request sets that changes its price. Reservation and commit use the same dimensions. */
export interface PriceDimensions {
  /** @default 'default' */
  serviceTier?: ServiceTier;
  /** The longest cache-write TTL among the request's cache points. @default '5m' */
  cacheTtl?: CacheTtl;
  /** Source region of the request (`us-east-1`); a foundation-model ARN's region wins. */
  region?: string;
}

/** The dimensions one call was priced with. */
export interface AppliedDimensions {
  endpoint: Endpoint;
  serviceTier: ServiceTier;
  cacheTtl: CacheTtl;
  region: string | undefined;
}

const TIERS: readonly ServiceTier[] = ['default', 'priority', 'flex', 'reserved'];
const TTLS: readonly CacheTtl[] = ['5m', '1h'];
/** Priority's premium when the catalog names none: AWS lists +75 % for the models it publishes. */
const DEFAULT_PRIORITY_PERCENT = 175;

/** An AWS region name: `us-east-1`, `us-gov-west-1`, `eusc-de-east-1`. */
export const AWS_REGION = /^[a-z]{2,5}(-[a-z]+)+-\d+$/;

/** Validates request dimensions (they may come from untrusted request bodies). */
export function checkDimensions(dimensions: PriceDimensions | undefined): void {
  if (dimensions === undefined) return;
  const { serviceTier, cacheTtl, region } = dimensions;
  if (serviceTier !== undefined && !TIERS.includes(serviceTier)) {
    throw invalid('serviceTier', `must be one of ${TIERS.join(', ')}, got ${String(serviceTier)}`);
  }
  if (cacheTtl !== undefined && !TTLS.includes(cacheTtl)) {
    throw invalid('cacheTtl', `must be '5m' or '1h', got ${String(cacheTtl)}`);
  }
  if (region !== undefined && !AWS_REGION.test(region)) {
    throw invalid('region', `must be an AWS region such as us-east-1, got ${String(region)}`);
  }
}

function scaled(rate: number | undefined, percent: number): number | undefined {
  return rate === undefined ? undefined : Math.ceil((rate * percent) / 100);
}

function scaleRates(rates: TokenRates, inputPercent: number, outputPercent: number): TokenRates {
  const result: TokenRates = {
    inputPerMillion: scaled(rates.inputPerMillion, inputPercent) as number,
    outputPerMillion: scaled(rates.outputPerMillion, outputPercent) as number,
  };
  const read = scaled(rates.cacheReadPerMillion, inputPercent);
  const write = scaled(rates.cacheWritePerMillion, inputPercent);
  const write1h = scaled(rates.cacheWrite1hPerMillion, inputPercent);
  if (read !== undefined) result.cacheReadPerMillion = read;
  if (write !== undefined) result.cacheWritePerMillion = write;
  if (write1h !== undefined) result.cacheWrite1hPerMillion = write1h;
  return result;
}

function ratesOf(price: ModelPrice, override: Partial<TokenRates> | undefined): TokenRates {
  const rates: TokenRates = {
    inputPerMillion: override?.inputPerMillion ?? price.inputPerMillion,
    outputPerMillion: override?.outputPerMillion ?? price.outputPerMillion,
  };
  const read = override?.cacheReadPerMillion ?? price.cacheReadPerMillion;
  const write = override?.cacheWritePerMillion ?? price.cacheWritePerMillion;
  const write1h = override?.cacheWrite1hPerMillion ?? price.cacheWrite1hPerMillion;
  if (read !== undefined) rates.cacheReadPerMillion = read;
  if (write !== undefined) rates.cacheWritePerMillion = write;
  if (write1h !== undefined) rates.cacheWrite1hPerMillion = write1h;
  return rates;
}

/** The rates of one call: location first (global, or the source region's), then the service tier. */
export interface CallRates {
  /** Rates at standard context length. */
  rates: TokenRates;
  /** Rates when the input passes the model's long-context threshold. */
  longContext?: { aboveInputTokens: number; rates: TokenRates };
}

/**
 * Prices one call of `price` under `applied`. A `reserved` call is priced at the standard rate: tokens
 * beyond the reservation overflow to standard, and within it they are prepaid (over-reserved, never under).
 */
export function callRates(price: ModelPrice, applied: AppliedDimensions): CallRates {
  const location =
    applied.endpoint === 'global'
      ? price.global
      : applied.region === undefined
        ? undefined
        : price.regions?.[applied.region];
  let rates = ratesOf(price, location);
  const tierPercent =
    applied.serviceTier === 'priority'
      ? (price.priorityPercent ?? DEFAULT_PRIORITY_PERCENT)
      : applied.serviceTier === 'flex'
        ? (price.flexPercent ?? 100)
        : 100;
  if (tierPercent !== 100) rates = scaleRates(rates, tierPercent, tierPercent);
  Object.freeze(rates);
  const long = price.longContext;
  if (long === undefined) return { rates };
  return {
    rates,
    longContext: {
      aboveInputTokens: long.aboveInputTokens,
      rates: Object.freeze(scaleRates(rates, long.inputPercent, long.outputPercent)),
    },
  };
}
