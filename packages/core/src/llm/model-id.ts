import type { Endpoint } from './price-dimensions.ts';

/**
 * Provider family of a Bedrock model, derived from its id prefix; it names the InvokeModel body shape.
 * `openai` covers the OpenAI chat-completions bodies of gpt-oss, and `qwen` and `deepseek` their own.
 */
export type ModelFamily =
  | 'anthropic'
  | 'nova'
  | 'llama'
  | 'mistral'
  | 'titan'
  | 'openai'
  | 'qwen'
  | 'deepseek'
  | 'other';

/** Result of {@link normalizeModelId}: the canonical base model id, its family and how it is reached. */
export interface NormalizedModelId {
  /** Lower-cased base foundation-model id, e.g. `anthropic.claude-3-5-haiku-20241022-v1:0`. */
  modelId: string;
  family: ModelFamily;
  /** `global` for `global.` profiles, `geo` for `us.`/`eu.`/`jp.`/... profiles, else `in-region`. */
  endpoint: Endpoint;
  /** The region named by an ARN (`arn:aws:bedrock:<region>:...`), when the id is one. */
  region?: string;
  /** True for an application inference profile ARN: the model behind it is not in the id. */
  applicationProfile?: true;
}

/** `arn:<partition>:bedrock:<region>:<account?>:(foundation-model|inference-profile|system-defined-inference-profile)/<id>` */
const ARN =
  /^arn:aws[a-z-]*:bedrock:([a-z0-9-]*):[0-9]*:(?:foundation-model|inference-profile|system-defined-inference-profile)\/(.+)$/;
/** `arn:<partition>:bedrock:<region>:<account>:application-inference-profile/<id>` */
const APPLICATION_PROFILE =
  /^arn:aws[a-z-]*:bedrock:([a-z0-9-]*):[0-9]*:application-inference-profile\/[a-z0-9]+$/;
/** Cross-region (geo or global) inference-profile prefixes, e.g. `us.`, `eu.`, `us-gov.`, `global.`. */
const PROFILE_PREFIX = /^(us-gov|us|eu|apac|au|ca|jp|global)\./;
/** Provisioned-throughput context variants, e.g. `anthropic.claude-3-haiku-20240307-v1:0:200k`. */
const CONTEXT_SUFFIX = /(:\d+):\d+k$/;

/** Most distinct ids whose normalization is remembered. */
const MAX_NORMALIZED_IDS = 1000;
const normalized = new Map<string, Readonly<NormalizedModelId>>();

/**
 * Reduces any Bedrock model identifier to the base foundation-model id used as the price key:
 * lower-cases it, takes the resource id out of foundation-model and inference-profile ARNs, strips a
 * cross-region inference-profile prefix (`us.`, `eu.`, `apac.`, `au.`, `ca.`, `jp.`, `us-gov.`,
 * `global.`) and a provisioned context suffix (`:200k`), and says which endpoint the id reaches.
 * Application inference profile ARNs are returned unchanged with `applicationProfile: true` (map them
 * to a model with the catalog's `profiles` option or the bedrock package's profile resolver).
 */
export function normalizeModelId(id: string): NormalizedModelId {
  // Adapters normalize the same few ids on every call: remember the answers (a fresh object each time).
  let known = normalized.get(id);
  if (known === undefined) {
    known = Object.freeze(parse(id));
    // Bounded, since ids may come from untrusted requests.
    if (normalized.size >= MAX_NORMALIZED_IDS) normalized.clear();
    normalized.set(id, known);
  }
  return { ...known };
}

function parse(id: string): NormalizedModelId {
  let modelId = id.trim().toLowerCase();
  const application = APPLICATION_PROFILE.exec(modelId);
  if (application !== null) {
    const result: NormalizedModelId = {
      modelId,
      family: 'other',
      endpoint: 'in-region',
      applicationProfile: true,
    };
    if (application[1]) result.region = application[1];
    return result;
  }
  const arn = ARN.exec(modelId);
  const region = arn?.[1] || undefined;
  if (arn?.[2] !== undefined) modelId = arn[2];
  const prefix = PROFILE_PREFIX.exec(modelId)?.[1];
  modelId = modelId.replace(PROFILE_PREFIX, '').replace(CONTEXT_SUFFIX, '$1');
  const endpoint: Endpoint = prefix === undefined ? 'in-region' : prefix === 'global' ? 'global' : 'geo';
  const result: NormalizedModelId = { modelId, family: familyOf(modelId), endpoint };
  if (region !== undefined) result.region = region;
  return result;
}

function familyOf(modelId: string): ModelFamily {
  if (modelId.startsWith('anthropic.')) return 'anthropic';
  if (modelId.startsWith('amazon.nova-')) return 'nova';
  if (modelId.startsWith('amazon.titan-')) return 'titan';
  if (modelId.startsWith('meta.')) return 'llama';
  if (modelId.startsWith('mistral.')) return 'mistral';
  if (modelId.startsWith('openai.')) return 'openai';
  if (modelId.startsWith('qwen.')) return 'qwen';
  if (modelId.startsWith('deepseek.')) return 'deepseek';
  return 'other';
}

/**
 * Other spellings of a base id that name the same model: Bedrock ids since Claude Sonnet 4.6 carry no
 * `-v1:0` suffix, and callers add or drop `:0` / `-v1`. Tried in order after the id itself.
 */
export function idVariants(modelId: string): string[] {
  const variants: string[] = [];
  if (modelId.endsWith(':0')) variants.push(modelId.slice(0, -2));
  const bare = modelId.replace(/-v1(:0)?$/, '');
  if (bare !== modelId) variants.push(bare);
  else {
    variants.push(`${modelId}-v1`, `${modelId}:0`, `${modelId}-v1:0`);
  }
  return variants;
}
