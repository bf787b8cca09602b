/** Provider family of a Bedrock model, derived from its id prefix. */
export type ModelFamily = 'anthropic' | 'nova' | 'llama' | 'mistral' | 'titan' | 'other';

/** Result of {@link normalizeModelId}: the canonical base model id and its family. */
export interface NormalizedModelId {
  /** Lower-cased base foundation-model id, e.g. `anthropic.claude-3-5-haiku-20241022-v1:0`. */
  modelId: string;
  family: ModelFamily;
}

/** `arn:<partition>:bedrock:<region>:<account?>:(foundation-model|inference-profile|system-defined-inference-profile)/<id>` */
const ARN =
  /^arn:aws[a-z-]*:bedrock:[a-z0-9-]*:[0-9]*:(?:foundation-model|inference-profile|system-defined-inference-profile)\/(.+)$/;
/** Cross-region (geo or global) inference-profile prefixes, e.g. `us.`, `eu.`, `us-gov.`, `global.`. */
const PROFILE_PREFIX = /^(?:us-gov|us|eu|apac|au|ca|jp|global)\./;
/** Provisioned-throughput context variants, e.g. `anthropic.claude-3-haiku-20240307-v1:0:200k`. */
const CONTEXT_SUFFIX = /(:\d+):\d+k$/;

/** Most distinct ids whose normalization is remembered. */
const MAX_NORMALIZED_IDS = 1000;
const normalized = new Map<string, NormalizedModelId>();

/**
 * Reduces any Bedrock model identifier to the base foundation-model id used as the price key:
 * lower-cases it, takes the resource id out of foundation-model and inference-profile ARNs, strips a
 * cross-region inference-profile prefix (`us.`, `eu.`, `apac.`, `au.`, `ca.`, `jp.`, `us-gov.`,
 * `global.`) and a provisioned context suffix (`:200k`). Application inference profiles (opaque ids)
 * are returned unchanged and will not resolve to a price.
 */
export function normalizeModelId(id: string): NormalizedModelId {
  // Adapters normalize the same few ids on every call: remember the answers (a fresh object each time).
  let known = normalized.get(id);
  if (known === undefined) {
    let modelId = id.trim().toLowerCase();
    const arn = ARN.exec(modelId);
    if (arn?.[1] !== undefined) modelId = arn[1];
    modelId = modelId.replace(PROFILE_PREFIX, '').replace(CONTEXT_SUFFIX, '$1');
    known = { modelId, family: familyOf(modelId) };
    // Bounded, since ids may come from untrusted requests.
    if (normalized.size >= MAX_NORMALIZED_IDS) normalized.clear();
    normalized.set(id, known);
  }
  return { modelId: known.modelId, family: known.family };
}

function familyOf(modelId: string): ModelFamily {
  if (modelId.startsWith('anthropic.')) return 'anthropic';
  if (modelId.startsWith('amazon.nova-')) return 'nova';
  if (modelId.startsWith('amazon.titan-')) return 'titan';
  if (modelId.startsWith('meta.')) return 'llama';
  if (modelId.startsWith('mistral.')) return 'mistral';
  return 'other';
}
