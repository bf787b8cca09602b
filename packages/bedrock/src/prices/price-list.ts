import {
  BEDROCK_PRICES,
  normalizeModelId,
  type PricesFile,
  type PricesFileModel,
  type PricesFileRates,
} from '@cycles-guard/core/llm';

// Turns AWS Price List API products (GetProducts, service code AmazonBedrock, format aws_v1) into a
// cycles-guard prices file. Each PriceList entry is a JSON string:
//   { product: { sku, productFamily, attributes: { regionCode, usagetype, model?, inferenceType?, ... } },
//     terms: { OnDemand: { <offer>: { priceDimensions: { <rate>: { unit, pricePerUnit: { USD }, description } } } } } }
// A product is classified by the text of its usage type, inference type, feature and description:
// which rate it is (input, output, cache read, 5-minute or 1-hour cache write), its tier (standard,
// priority, flex), global or not, long context or not. Batch, provisioned and non-token products are
// skipped. Where two products give the same rate, the higher price is kept (over-reserve, never under).

type Rate = keyof Required<PricesFileRates>;
type Tier = 'standard' | 'priority' | 'flex';

/** One priced rate read from a product. */
export interface PriceListRate {
  modelName: string;
  rate: Rate;
  tier: Tier;
  global: boolean;
  longContext: boolean;
  /** USD per 1M tokens. */
  usdPerMillion: number;
}

/** What {@link pricesFromPriceList} built and what it left out, and why. */
export interface PriceListConversion {
  file: PricesFile;
  /** Product names with no model id mapping (pass `--map "<name>=<model id>"`). */
  unmappedModels: string[];
  /** Models with prices but no known output ceiling (not in the built-in table): left out. */
  missingOutputCeiling: string[];
  /** Products read as token rates. */
  ratesRead: number;
  /** Products skipped (batch, provisioned, images, ...). */
  skipped: number;
}

/** Options of {@link pricesFromPriceList}. */
export interface PriceListOptions {
  region: string;
  /** `YYYY-MM-DD` of the fetch; part of the version. */
  date: string;
  /** Extra or overriding product model name → Bedrock model id. */
  modelIds?: Record<string, string>;
}

/**
 * Product model names as the price list spells them → Bedrock base ids. Best-known spellings; a name
 * not here is reported, never guessed.
 */
export const PRICE_LIST_MODEL_NAMES: Readonly<Record<string, string>> = Object.freeze({
  'claude 3 haiku': 'anthropic.claude-3-haiku-20240307-v1:0',
  'claude 3 opus': 'anthropic.claude-3-opus-20240229-v1:0',
  'claude 3.5 haiku': 'anthropic.claude-3-5-haiku-20241022-v1:0',
  'claude 3.5 sonnet': 'anthropic.claude-3-5-sonnet-20240620-v1:0',
  'claude 3.5 sonnet v2': 'anthropic.claude-3-5-sonnet-20241022-v2:0',
  'claude 3.7 sonnet': 'anthropic.claude-3-7-sonnet-20250219-v1:0',
  'claude sonnet 4': 'anthropic.claude-sonnet-4-20250514-v1:0',
  'claude opus 4': 'anthropic.claude-opus-4-20250514-v1:0',
  'claude opus 4.1': 'anthropic.claude-opus-4-1-20250805-v1:0',
  'claude sonnet 4.5': 'anthropic.claude-sonnet-4-5-20250929-v1:0',
  'claude haiku 4.5': 'anthropic.claude-haiku-4-5-20251001-v1:0',
  'claude opus 4.5': 'anthropic.claude-opus-4-5-20251101-v1:0',
  'claude opus 4.6': 'anthropic.claude-opus-4-6-v1',
  'claude sonnet 4.6': 'anthropic.claude-sonnet-4-6',
  'claude opus 4.7': 'anthropic.claude-opus-4-7',
  'claude opus 4.8': 'anthropic.claude-opus-4-8',
  'claude sonnet 5': 'anthropic.claude-sonnet-5',
  'claude sonnet 5.5': 'anthropic.claude-sonnet-5-5',
  'claude opus 5': 'anthropic.claude-opus-5',
  'claude opus 5.5': 'anthropic.claude-opus-5-5',
  'claude haiku 5.5': 'anthropic.claude-haiku-5-5',
  'nova micro': 'amazon.nova-micro-v1:0',
  'nova lite': 'amazon.nova-lite-v1:0',
  'nova pro': 'amazon.nova-pro-v1:0',
  'nova premier': 'amazon.nova-premier-v1:0',
  'nova 2 lite': 'amazon.nova-2-lite-v1:0',
  'gpt-oss-120b': 'openai.gpt-oss-120b-1:0',
  'gpt-oss-20b': 'openai.gpt-oss-20b-1:0',
  'deepseek-r1': 'deepseek.r1-v1:0',
  'deepseek-v3.1': 'deepseek.v3-v1:0',
  'qwen3-235b-a22b-2507': 'qwen.qwen3-235b-a22b-2507-v1:0',
  'qwen3-coder-480b-a35b': 'qwen.qwen3-coder-480b-a35b-v1:0',
  'qwen3-32b': 'qwen.qwen3-32b-v1:0',
  'qwen3-coder-30b-a3b': 'qwen.qwen3-coder-30b-a3b-v1:0',
  'llama 3.3 70b instruct': 'meta.llama3-3-70b-instruct-v1:0',
  'llama 4 maverick 17b': 'meta.llama4-maverick-17b-instruct-v1:0',
  'llama 4 scout 17b': 'meta.llama4-scout-17b-instruct-v1:0',
  'mistral large (24.07)': 'mistral.mistral-large-2407-v1:0',
  'pixtral large (25.02)': 'mistral.pixtral-large-2502-v1:0',
  'titan text premier': 'amazon.titan-text-premier-v1:0',
});

const SKIP =
  /batch|provisioned|model.?unit|custom|image|video|embed|latency.?optimized|training|storage|per.?hour/;

function classify(text: string): Pick<PriceListRate, 'rate' | 'tier' | 'global' | 'longContext'> | undefined {
  if (SKIP.test(text)) return undefined;
  let rate: Rate | undefined;
  if (/cache.?read/.test(text)) rate = 'cacheRead';
  else if (/cache.?write/.test(text))
    rate = /1h|1.?hour|long.?ttl/.test(text) ? 'cacheWrite1h' : 'cacheWrite';
  else if (/input/.test(text)) rate = 'input';
  else if (/output/.test(text)) rate = 'output';
  if (rate === undefined) return undefined;
  const tier: Tier = /priority/.test(text) ? 'priority' : /flex/.test(text) ? 'flex' : 'standard';
  return { rate, tier, global: /global/.test(text), longContext: /long.?context|lctx|>\s?200k/.test(text) };
}

/** USD per 1M tokens from a price dimension's `unit` (`1K tokens`, `1M tokens`, `Tokens`). */
function perMillion(unit: string, usd: number): number | undefined {
  const normalized = unit.toLowerCase().replaceAll(' ', '');
  const scale =
    normalized === '1ktokens' || normalized === 'ktokens'
      ? 1000
      : normalized === '1mtokens' || normalized === 'mtokens'
        ? 1
        : normalized === 'tokens' || normalized === 'token'
          ? 1_000_000
          : undefined;
  return scale === undefined ? undefined : Number((usd * scale).toFixed(8));
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** The token rates of one PriceList entry (a JSON string), or none when it is not a token price. */
export function readPriceListEntry(entry: string): PriceListRate[] {
  const json = record(JSON.parse(entry));
  const attributes = record(record(json.product).attributes);
  const modelName = String(attributes.model ?? attributes.titanModel ?? '').trim();
  if (modelName === '') return [];
  const rates: PriceListRate[] = [];
  for (const offer of Object.values(record(record(json.terms).OnDemand))) {
    for (const dimension of Object.values(record(record(offer).priceDimensions))) {
      const { unit, pricePerUnit, description } = record(dimension);
      const text = [attributes.usagetype, attributes.inferenceType, attributes.feature, description]
        .filter((part) => typeof part === 'string')
        .join(' ')
        .toLowerCase();
      const kind = classify(text);
      const usd = Number(record(pricePerUnit).USD);
      const usdPerMillion =
        typeof unit === 'string' && Number.isFinite(usd) ? perMillion(unit, usd) : undefined;
      if (kind === undefined || usdPerMillion === undefined || usdPerMillion <= 0) continue;
      rates.push({ modelName, ...kind, usdPerMillion });
    }
  }
  return rates;
}

function higher(target: PricesFileRates, rate: Rate, value: number): void {
  target[rate] = Math.max(target[rate] ?? 0, value);
}

/** Percent of `base` that `scaled` is, rounded up, across input and output (the dearer of the two). */
function percentOf(base: PricesFileRates, scaled: PricesFileRates): number | undefined {
  const ratios = (['input', 'output'] as const)
    .filter((rate) => base[rate] !== undefined && scaled[rate] !== undefined)
    .map((rate) => Math.ceil(((scaled[rate] as number) / (base[rate] as number)) * 100 - 1e-9));
  return ratios.length === 0 ? undefined : Math.max(...ratios);
}

/** Builds a prices file from GetProducts PriceList entries of one region. */
export function pricesFromPriceList(
  entries: readonly string[],
  options: PriceListOptions,
): PriceListConversion {
  const names = new Map<string, string>();
  for (const [name, id] of Object.entries({ ...PRICE_LIST_MODEL_NAMES, ...options.modelIds })) {
    names.set(name.toLowerCase(), normalizeModelId(id).modelId);
  }
  interface Collected {
    standard: PricesFileRates;
    global: PricesFileRates;
    priority: PricesFileRates;
    flex: PricesFileRates;
    long: PricesFileRates;
  }
  const byModel = new Map<string, Collected>();
  const unmapped = new Set<string>();
  let ratesRead = 0;
  let skipped = 0;
  for (const entry of entries) {
    const rates = readPriceListEntry(entry);
    if (rates.length === 0) skipped++;
    for (const rate of rates) {
      const id = names.get(rate.modelName.toLowerCase());
      if (id === undefined) {
        unmapped.add(rate.modelName);
        continue;
      }
      ratesRead++;
      let collected = byModel.get(id);
      if (collected === undefined) {
        collected = { standard: {}, global: {}, priority: {}, flex: {}, long: {} };
        byModel.set(id, collected);
      }
      const bucket = rate.longContext
        ? 'long'
        : rate.tier !== 'standard'
          ? rate.tier
          : rate.global
            ? 'global'
            : 'standard';
      // Tier and long-context rates are kept as percentages of the regional (or only) standard rates.
      higher(collected[bucket], rate.rate, rate.usdPerMillion);
    }
  }
  const models: Record<string, PricesFileModel> = {};
  const missingOutputCeiling: string[] = [];
  const source = `AWS Price List API GetProducts AmazonBedrock ${options.region} ${options.date}`;
  for (const [id, collected] of [...byModel].sort(([a], [b]) => a.localeCompare(b))) {
    // Global-only models (no regional product) are priced at the global rates everywhere.
    const standard = collected.standard.input === undefined ? collected.global : collected.standard;
    if (standard.input === undefined || standard.output === undefined) continue;
    const builtin = BEDROCK_PRICES[id];
    if (builtin === undefined) {
      missingOutputCeiling.push(id);
      continue;
    }
    const model: PricesFileModel = { ...standard, source, asOf: options.date, verified: true };
    if (collected.standard.input !== undefined && collected.global.input !== undefined)
      model.global = collected.global;
    const priority = percentOf(standard, collected.priority);
    if (priority !== undefined) model.priorityPercent = priority;
    const flex = percentOf(standard, collected.flex);
    if (flex !== undefined) model.flexPercent = flex;
    const long = collected.long;
    if (long.input !== undefined && long.output !== undefined) {
      model.longContext = {
        aboveInputTokens: builtin.longContext?.aboveInputTokens ?? 200_000,
        inputPercent: Math.max(100, percentOf(standard, { input: long.input }) ?? 100),
        outputPercent: Math.max(100, percentOf(standard, { output: long.output }) ?? 100),
      };
    }
    models[id] = model;
  }
  return {
    file: { version: `aws-price-list-${options.region}-${options.date}`, source, models },
    unmappedModels: [...unmapped].sort(),
    missingOutputCeiling,
    ratesRead,
    skipped,
  };
}
