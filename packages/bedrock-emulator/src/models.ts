/** Model families whose InvokeModel body formats the emulator understands. */
export type ModelFamily = 'anthropic' | 'nova' | 'llama' | 'mistral' | 'titan';

/** What the emulator knows about one base model. */
export interface ModelInfo {
  /** Which InvokeModel body format the model speaks. */
  family: ModelFamily;
  /** Largest `maxTokens` the model accepts; larger requests get a ValidationException. */
  maxOutputTokens: number;
  /** maxTokens used when the request sends none. @default min(4096, maxOutputTokens) */
  defaultMaxTokens?: number;
}

/** A model table: base model id (e.g. `anthropic.claude-sonnet-4-20250514-v1:0`) → info. */
export type ModelTable = Record<string, ModelInfo>;

const claude = (maxOutputTokens: number): ModelInfo => ({ family: 'anthropic', maxOutputTokens });

/**
 * Built-in base models. Output limits follow the Bedrock model cards as best known; they matter only for
 * the "maxTokens above the model limit" validation, and `models` options can override any entry.
 */
export const BUILTIN_MODELS: ModelTable = {
  'anthropic.claude-3-haiku-20240307-v1:0': claude(4096),
  'anthropic.claude-3-sonnet-20240229-v1:0': claude(4096),
  'anthropic.claude-3-opus-20240229-v1:0': claude(4096),
  'anthropic.claude-3-5-haiku-20241022-v1:0': claude(8192),
  'anthropic.claude-3-5-sonnet-20240620-v1:0': claude(8192),
  'anthropic.claude-3-5-sonnet-20241022-v2:0': claude(8192),
  'anthropic.claude-3-7-sonnet-20250219-v1:0': claude(64000),
  'anthropic.claude-sonnet-4-20250514-v1:0': claude(64000),
  'anthropic.claude-opus-4-20250514-v1:0': claude(32000),
  'anthropic.claude-opus-4-1-20250805-v1:0': claude(32000),
  'anthropic.claude-sonnet-4-5-20250929-v1:0': claude(64000),
  'anthropic.claude-haiku-4-5-20251001-v1:0': claude(64000),
  'anthropic.claude-opus-4-5-20251101-v1:0': claude(64000),
  'amazon.nova-micro-v1:0': { family: 'nova', maxOutputTokens: 10000 },
  'amazon.nova-lite-v1:0': { family: 'nova', maxOutputTokens: 10000 },
  'amazon.nova-pro-v1:0': { family: 'nova', maxOutputTokens: 10000 },
  'amazon.nova-premier-v1:0': { family: 'nova', maxOutputTokens: 32000 },
  'meta.llama3-8b-instruct-v1:0': { family: 'llama', maxOutputTokens: 2048 },
  'meta.llama3-70b-instruct-v1:0': { family: 'llama', maxOutputTokens: 2048 },
  'meta.llama3-1-8b-instruct-v1:0': { family: 'llama', maxOutputTokens: 2048 },
  'meta.llama3-1-70b-instruct-v1:0': { family: 'llama', maxOutputTokens: 2048 },
  'meta.llama3-1-405b-instruct-v1:0': { family: 'llama', maxOutputTokens: 2048 },
  'meta.llama3-2-1b-instruct-v1:0': { family: 'llama', maxOutputTokens: 2048 },
  'meta.llama3-2-3b-instruct-v1:0': { family: 'llama', maxOutputTokens: 2048 },
  'meta.llama3-3-70b-instruct-v1:0': { family: 'llama', maxOutputTokens: 2048 },
  'meta.llama4-scout-17b-instruct-v1:0': { family: 'llama', maxOutputTokens: 8192 },
  'meta.llama4-maverick-17b-instruct-v1:0': { family: 'llama', maxOutputTokens: 8192 },
  'mistral.mistral-7b-instruct-v0:2': { family: 'mistral', maxOutputTokens: 8192 },
  'mistral.mixtral-8x7b-instruct-v0:1': { family: 'mistral', maxOutputTokens: 4096 },
  'mistral.mistral-small-2402-v1:0': { family: 'mistral', maxOutputTokens: 8192 },
  'mistral.mistral-large-2402-v1:0': { family: 'mistral', maxOutputTokens: 8192 },
  'mistral.mistral-large-2407-v1:0': { family: 'mistral', maxOutputTokens: 8192 },
  'amazon.titan-text-express-v1': { family: 'titan', maxOutputTokens: 8192 },
  'amazon.titan-text-lite-v1': { family: 'titan', maxOutputTokens: 4096 },
  'amazon.titan-text-premier-v1:0': { family: 'titan', maxOutputTokens: 3072 },
};

/** Outcome of resolving the `{modelId}` path segment. */
export type ModelResolution =
  | { ok: true; resolvedModelId: string; model: ModelInfo }
  | { ok: false; reason: 'invalid' | 'not-found' };

// Cross-region inference profile prefixes Bedrock puts in front of a base model id.
const PROFILE_PREFIX = /^(us|us-gov|eu|apac|jp|au|ca|global)\./;
// Context-window variants such as `anthropic.claude-3-haiku-20240307-v1:0:200k`.
const CONTEXT_SUFFIX = /:\d+k$/;

/**
 * Resolve a (URL-decoded) model id, inference profile id or ARN to a base model in `table`.
 * Ids without a `provider.model` shape are `invalid` (Bedrock: 400); well-formed but unknown ids are
 * `not-found` (Bedrock: 404 ResourceNotFoundException).
 */
export function resolveModel(modelId: string, table: ModelTable): ModelResolution {
  const direct = table[modelId];
  if (direct) return { ok: true, resolvedModelId: modelId, model: direct };
  let id = modelId;
  if (id.startsWith('arn:')) {
    // arn:aws:bedrock:<region>:<account>:<resource-type>/<resource-id>
    const slash = id.indexOf('/');
    if (slash < 0) return { ok: false, reason: 'invalid' };
    id = id.slice(slash + 1);
  }
  id = id.replace(PROFILE_PREFIX, '').replace(CONTEXT_SUFFIX, '');
  const model = table[id];
  if (model) return { ok: true, resolvedModelId: id, model };
  if (!/^[a-z0-9-]{1,63}\.[a-z0-9-]{1,63}/i.test(id)) return { ok: false, reason: 'invalid' };
  return { ok: false, reason: 'not-found' };
}

/** The maxTokens the emulator applies when a request names none. */
export function defaultMaxTokens(model: ModelInfo): number {
  return model.defaultMaxTokens ?? Math.min(4096, model.maxOutputTokens);
}
