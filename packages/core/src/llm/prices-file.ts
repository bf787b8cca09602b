import { readFileSync } from 'node:fs';
import { InvalidConfigError } from '../protocol/errors.ts';
import { isObject } from '../protocol/validate.ts';
import type { LongContextRates, ModelPrice, TokenRates } from './cost.ts';

/** A user-supplied price: input and output are required; other fields default from the catalog's existing entry. */
export type PriceOverride = Partial<ModelPrice> & Pick<ModelPrice, 'inputPerMillion' | 'outputPerMillion'>;

// The prices file: a JSON document (schema in `prices.schema.json`) that replaces or extends the
// built-in table without a release. Prices in it are USD per 1M tokens, as AWS publishes them.

/** Rates of a prices-file entry, in USD per 1M tokens (`3.3` = $3.30 per million). */
export interface PricesFileRates {
  input?: number;
  output?: number;
  cacheRead?: number;
  cacheWrite?: number;
  cacheWrite1h?: number;
}

/** One model of a prices file. */
export interface PricesFileModel extends PricesFileRates {
  maxOutputTokens?: number;
  contextWindow?: number;
  global?: PricesFileRates;
  regions?: Record<string, PricesFileRates>;
  priorityPercent?: number;
  flexPercent?: number;
  longContext?: LongContextRates;
  source?: string;
  asOf?: string;
  verified?: boolean;
}

/** The whole prices file. */
export interface PricesFile {
  $schema?: string;
  /** Names this set of prices; reported with every call priced from it. */
  version: string;
  /** Where the prices come from (e.g. `AWS Price List API, us-east-1`). */
  source?: string;
  /** Prices by model id (any id form: ARNs and profiles are normalized). */
  models: Record<string, PricesFileModel>;
}

/** A parsed prices file: overrides in USD microcents, ready for the catalog. */
export interface LoadedPrices {
  version: string;
  source: string | undefined;
  prices: Record<string, PriceOverride>;
}

const RATE_FIELDS = [
  ['input', 'inputPerMillion'],
  ['output', 'outputPerMillion'],
  ['cacheRead', 'cacheReadPerMillion'],
  ['cacheWrite', 'cacheWritePerMillion'],
  ['cacheWrite1h', 'cacheWrite1hPerMillion'],
] as const;
/** The fields of a model entry (kept equal to `prices.schema.json` by a test). */
export const MODEL_KEYS: ReadonlySet<string> = new Set([
  ...RATE_FIELDS.map(([name]) => name),
  'maxOutputTokens',
  'contextWindow',
  'global',
  'regions',
  'priorityPercent',
  'flexPercent',
  'longContext',
  'source',
  'asOf',
  'verified',
]);

function fail(where: string, field: string, problem: string): never {
  throw new InvalidConfigError(`${where}: ${field} ${problem}`, { details: { field } });
}

/** USD per 1M tokens → microcents, exactly (at most 8 decimals; never 0 or negative). */
function microcents(where: string, field: string, value: unknown): number {
  const amount = typeof value === 'number' ? Math.round(value * 100_000_000) : Number.NaN;
  if (
    !Number.isSafeInteger(amount) ||
    amount <= 0 ||
    Math.abs(amount / 100_000_000 - (value as number)) > 1e-12
  ) {
    fail(
      where,
      field,
      `must be a positive USD price per 1M tokens with at most 8 decimals, got ${String(value)}`,
    );
  }
  return amount;
}

function count(where: string, field: string, value: unknown, minimum = 1): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < minimum) {
    fail(where, field, `must be an integer of at least ${minimum}, got ${String(value)}`);
  }
  return value;
}

/** The fields of a `global` or `regions` rate set. */
export const RATE_KEYS: ReadonlySet<string> = new Set(RATE_FIELDS.map(([name]) => name));

/** Reads the rate fields of `value`; any key outside `allowed` is refused (a typo must not go unpriced). */
function rates(
  where: string,
  field: string,
  value: unknown,
  allowed: ReadonlySet<string>,
): Partial<TokenRates> {
  if (!isObject(value)) fail(where, field, 'must be an object');
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) fail(where, `${field}.${key}`, 'is not a known field (see prices.schema.json)');
  }
  const result: Partial<TokenRates> = {};
  for (const [name, target] of RATE_FIELDS) {
    if (value[name] !== undefined) result[target] = microcents(where, `${field}.${name}`, value[name]);
  }
  return result;
}

const ROOT_KEYS: ReadonlySet<string> = new Set(['$schema', 'version', 'source', 'models']);

/** Validates a parsed prices file and converts it to catalog overrides. `where` names it in errors. */
export function parsePricesFile(json: unknown, where = 'prices file'): LoadedPrices {
  if (!isObject(json)) fail(where, '(root)', 'must be a JSON object');
  for (const key of Object.keys(json)) {
    if (!ROOT_KEYS.has(key)) fail(where, key, 'is not a known field (see prices.schema.json)');
  }
  const { version, source, models } = json;
  if (typeof version !== 'string' || version.length === 0 || version.length > 128) {
    fail(where, 'version', 'must be a non-empty string of at most 128 characters');
  }
  if (source !== undefined && typeof source !== 'string') fail(where, 'source', 'must be a string');
  if (!isObject(models) || Object.keys(models).length === 0)
    fail(where, 'models', 'must be a non-empty object');
  const prices: Record<string, PriceOverride> = {};
  for (const [id, entry] of Object.entries(models)) {
    const field = `models['${id}']`;
    if (!isObject(entry)) fail(where, field, 'must be an object');
    const override: Partial<PriceOverride> = rates(where, field, entry, MODEL_KEYS);
    if (entry.maxOutputTokens !== undefined)
      override.maxOutputTokens = count(where, `${field}.maxOutputTokens`, entry.maxOutputTokens);
    if (entry.contextWindow !== undefined)
      override.contextWindow = count(where, `${field}.contextWindow`, entry.contextWindow);
    if (entry.global !== undefined)
      override.global = rates(where, `${field}.global`, entry.global, RATE_KEYS);
    if (entry.regions !== undefined) {
      if (!isObject(entry.regions)) fail(where, `${field}.regions`, 'must be an object');
      override.regions = {};
      for (const [region, regional] of Object.entries(entry.regions)) {
        override.regions[region] = rates(where, `${field}.regions.${region}`, regional, RATE_KEYS);
      }
    }
    if (entry.priorityPercent !== undefined)
      override.priorityPercent = count(where, `${field}.priorityPercent`, entry.priorityPercent);
    if (entry.flexPercent !== undefined)
      override.flexPercent = count(where, `${field}.flexPercent`, entry.flexPercent);
    if (entry.longContext !== undefined) {
      const long = entry.longContext as unknown;
      if (!isObject(long)) fail(where, `${field}.longContext`, 'must be an object');
      override.longContext = {
        aboveInputTokens: count(where, `${field}.longContext.aboveInputTokens`, long.aboveInputTokens),
        inputPercent: count(where, `${field}.longContext.inputPercent`, long.inputPercent, 100),
        outputPercent: count(where, `${field}.longContext.outputPercent`, long.outputPercent, 100),
      };
    }
    for (const key of ['source', 'asOf'] as const) {
      const value = entry[key];
      if (value !== undefined && typeof value !== 'string')
        fail(where, `${field}.${key}`, 'must be a string');
      if (typeof value === 'string') override[key] = value;
    }
    if (entry.verified !== undefined) {
      if (typeof entry.verified !== 'boolean') fail(where, `${field}.verified`, 'must be true or false');
      override.verified = entry.verified;
    }
    prices[id] = override as PriceOverride;
  }
  return { version, source: source as string | undefined, prices };
}

/** Reads and validates a prices file (Node only: it uses `node:fs`). */
export function readPricesFile(path: string): LoadedPrices {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InvalidConfigError(`Cannot read prices file ${path}: ${(error as Error).message}`, {
      details: { field: 'pricesFile' },
      cause: error,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new InvalidConfigError(`Prices file ${path} is not valid JSON: ${(error as Error).message}`, {
      details: { field: 'pricesFile' },
      cause: error,
    });
  }
  return parsePricesFile(json, `prices file ${path}`);
}
