/**
 * Model families whose InvokeModel body formats the emulator understands (`openai`: OpenAI chat
 * completions, as gpt-oss, Qwen3, DeepSeek and the other open-weight chat models speak it).
 */
export type ModelFamily = 'anthropic' | 'nova' | 'llama' | 'mistral' | 'titan' | 'openai';

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
const chat = (maxOutputTokens: number): ModelInfo => ({ family: 'openai', maxOutputTokens });

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
  'anthropic.claude-opus-4-6-v1': claude(64000),
  'anthropic.claude-sonnet-4-6': claude(64000),
  'anthropic.claude-opus-4-7': claude(128000),
  'anthropic.claude-opus-4-8': claude(128000),
  'anthropic.claude-sonnet-5': claude(128000),
  'anthropic.claude-sonnet-5-5': claude(128000),
  'anthropic.claude-opus-5': claude(128000),
  'anthropic.claude-opus-5-5': claude(128000),
  'anthropic.claude-haiku-5-5': claude(128000),
  'anthropic.claude-fable-5': claude(128000),
  'anthropic.claude-fable-5-1': claude(128000),
  'anthropic.claude-fable-5-2': claude(128000),
  'amazon.nova-2-lite-v1:0': { family: 'nova', maxOutputTokens: 64000 },
  'openai.gpt-oss-120b-1:0': chat(32768),
  'openai.gpt-oss-20b-1:0': chat(32768),
  'deepseek.r1-v1:0': chat(32768),
  'deepseek.v3-v1:0': chat(32768),
  'qwen.qwen3-235b-a22b-2507-v1:0': chat(32768),
  'qwen.qwen3-coder-480b-a35b-v1:0': chat(32768),
  'qwen.qwen3-32b-v1:0': chat(16384),
  'qwen.qwen3-coder-30b-a3b-v1:0': chat(32768),
  'google.gemma-3-4b-it': chat(8192),
  'google.gemma-3-12b-it': chat(8192),
  'google.gemma-3-27b-it': chat(8192),
  'mistral.pixtral-large-2502-v1:0': { family: 'mistral', maxOutputTokens: 8192 },
  'cohere.command-r-v1:0': chat(4096),
  'cohere.command-r-plus-v1:0': chat(4096),
  'ai21.jamba-1-5-large-v1:0': chat(4096),
  'ai21.jamba-1-5-mini-v1:0': chat(4096),
  'writer.palmyra-x4-v1:0': chat(8192),
  'writer.palmyra-x5-v1:0': chat(8192),
  'moonshot.kimi-k2-thinking': chat(16384),
  'minimax.minimax-m2': chat(16384),
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
  'meta.llama3-2-11b-instruct-v1:0': { family: 'llama', maxOutputTokens: 2048 },
  'meta.llama3-2-90b-instruct-v1:0': { family: 'llama', maxOutputTokens: 2048 },
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
