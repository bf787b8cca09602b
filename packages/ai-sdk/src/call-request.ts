import type { JSONObject, LanguageModelV3CallOptions, LanguageModelV3Message } from '@ai-sdk/provider';
import { InvalidRequestError } from '@cycles-guard/core';
import type { EstimateInput, ModelFamily } from '@cycles-guard/core/llm';

type Part = Exclude<LanguageModelV3Message, { role: 'system' }>['content'][number];

/** Text of one prompt part as the provider sends it; files and images are not counted (see ESTIMATE_RULE). */
function partText(part: Part): string {
  switch (part.type) {
    case 'text':
    case 'reasoning':
      return part.text;
    case 'tool-call':
      return JSON.stringify({ name: part.toolName, input: part.input });
    case 'tool-result':
      return JSON.stringify(part.output);
    default:
      return '';
  }
}

/** The request's text for the input estimate: system, messages, tool specs and the JSON output schema. */
export function promptInput(params: LanguageModelV3CallOptions): EstimateInput {
  const system: string[] = [];
  const messages: { role: string; content: string[] }[] = [];
  for (const message of params.prompt) {
    if (message.role === 'system') system.push(message.content);
    else messages.push({ role: message.role, content: message.content.map(partText) });
  }
  const tools = (params.tools ?? []).map((tool) => JSON.stringify(tool));
  // Bedrock answers generateObject through a forced JSON tool: its schema is input like a tool spec.
  if (params.responseFormat?.type === 'json' && params.responseFormat.schema !== undefined) {
    tools.push(JSON.stringify(params.responseFormat));
  }
  return { system, messages, ...(tools.length > 0 ? { tools } : {}) };
}

/** Anthropic's smallest thinking budget; Bedrock and Anthropic refuse less (HTTP 400). */
export const MIN_THINKING_BUDGET_TOKENS = 1024;

/**
 * Where a provider takes Anthropic's thinking budget, which it adds to `maxOutputTokens` on the wire:
 * Converse (`amazon-bedrock`) reads `providerOptions.amazonBedrock.reasoningConfig` (bedrock@5; else
 * `providerOptions.bedrock`, the only key of bedrock@4) and adds 4096 text tokens when
 * `maxOutputTokens` is unset; the Messages API providers (`bedrock.anthropic.messages`,
 * `anthropic.messages`) read `providerOptions.anthropic.thinking` (budget 1024 when omitted) and use
 * the model maximum.
 */
interface ThinkingOption {
  /** Keys the provider reads, in its order of preference. */
  providerKeys: readonly string[];
  configKey: 'reasoningConfig' | 'thinking';
  defaultBudget: number | undefined;
  defaultTextTokens: number | undefined;
}

/** A thinking option as one call sets it: the key it was found under (where the grant goes back). */
export type ThinkingConfig = Omit<ThinkingOption, 'providerKeys'> & { providerKey: string };

function thinkingOption(provider: string, family: ModelFamily): ThinkingOption | undefined {
  if (provider.includes('anthropic')) {
    return {
      providerKeys: ['anthropic'],
      configKey: 'thinking',
      defaultBudget: 1024,
      defaultTextTokens: undefined,
    };
  }
  if (provider.includes('bedrock') && family === 'anthropic') {
    return {
      providerKeys: ['amazonBedrock', 'bedrock'],
      configKey: 'reasoningConfig',
      defaultBudget: undefined,
      defaultTextTokens: 4096,
    };
  }
  return undefined;
}

function configUnder(
  params: LanguageModelV3CallOptions,
  providerKey: string,
  configKey: string,
): JSONObject | undefined {
  const config = params.providerOptions?.[providerKey]?.[configKey];
  return typeof config === 'object' && config !== null && !Array.isArray(config)
    ? (config as JSONObject) // provider@4 types it readonly
    : undefined;
}

function findConfig(
  params: LanguageModelV3CallOptions,
  option: ThinkingOption,
): { thinking: ThinkingConfig; config: JSONObject } | undefined {
  for (const providerKey of option.providerKeys) {
    const config = configUnder(params, providerKey, option.configKey);
    if (config !== undefined) {
      const { providerKeys: _, ...rest } = option;
      return { thinking: { ...rest, providerKey }, config };
    }
  }
  return undefined;
}

/**
 * ai@7's portable `reasoning` setting lets the provider choose a thinking budget from its own model
 * table and add it to `maxOutputTokens` on the wire, out of the guard's sight: refused unless the
 * provider's explicit thinking option (which the provider lets win) sets the budget.
 */
function portableReasoningProblem(params: LanguageModelV3CallOptions, option: ThinkingOption) {
  const reasoning = (params as { reasoning?: unknown }).reasoning;
  if (reasoning === undefined || reasoning === 'provider-default' || reasoning === 'none') return;
  const where = `providerOptions.${option.providerKeys[0]}.${option.configKey}`;
  throw new InvalidRequestError(
    `reasoning: '${String(reasoning)}' lets the provider pick a thinking budget the budget guard cannot ` +
      `see: set ${where}: { type: 'enabled', budgetTokens } (it wins over \`reasoning\`), so the ` +
      'thinking budget is held and capped',
    { details: { field: 'reasoning' } },
  );
}

/** The output the provider may bill: text limit plus, for Anthropic thinking, the thinking budget. */
export interface OutputLimits {
  /** Total output tokens asked for (undefined: the model's maximum). */
  maxOutputTokens: number | undefined;
  reasoningBudgetTokens: number | undefined;
  /** Where the thinking budget goes back when the grant is applied. */
  thinking: ThinkingConfig | undefined;
}

/** Reads the output bound of a call to `provider`: text tokens, plus the thinking budget it adds. */
export function outputLimits(
  params: LanguageModelV3CallOptions,
  provider: string,
  family: ModelFamily,
): OutputLimits {
  const option = thinkingOption(provider, family);
  const found = option === undefined ? undefined : findConfig(params, option);
  if (option !== undefined && found === undefined) portableReasoningProblem(params, option);
  const config = found?.config;
  const budget = config?.type === 'enabled' ? (config.budgetTokens ?? option?.defaultBudget) : undefined;
  if (found === undefined || typeof budget !== 'number') {
    return { maxOutputTokens: params.maxOutputTokens, reasoningBudgetTokens: undefined, thinking: undefined };
  }
  const text = params.maxOutputTokens ?? option?.defaultTextTokens;
  return {
    maxOutputTokens: text === undefined ? undefined : text + budget,
    reasoningBudgetTokens: budget,
    thinking: found.thinking,
  };
}

/**
 * The params to send: the granted total split back into text tokens and thinking budget, so what
 * the provider puts on the wire (`maxOutputTokens + budgetTokens`) equals the grant.
 */
export function grantedParams(
  params: LanguageModelV3CallOptions,
  grantedTotal: number,
  limits: OutputLimits,
  reasoningBudgetTokens: number | undefined,
  abortSignal: AbortSignal | undefined,
): LanguageModelV3CallOptions {
  const option = limits.thinking;
  if (option === undefined || reasoningBudgetTokens === undefined) {
    return { ...params, maxOutputTokens: grantedTotal, abortSignal };
  }
  return {
    ...params,
    maxOutputTokens: grantedTotal - reasoningBudgetTokens,
    abortSignal,
    providerOptions: {
      ...params.providerOptions,
      [option.providerKey]: {
        ...params.providerOptions?.[option.providerKey],
        [option.configKey]: {
          ...configUnder(params, option.providerKey, option.configKey),
          budgetTokens: reasoningBudgetTokens,
        },
      },
    },
  };
}
