import type { JSONObject, LanguageModelV3CallOptions, LanguageModelV3Message } from '@ai-sdk/provider';
import type { EstimateInput, ModelFamily } from '@cycles-guard/core';

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

/** Anthropic's smallest thinking budget; Bedrock refuses less (HTTP 400). */
export const MIN_THINKING_BUDGET_TOKENS = 1024;
/** What `@ai-sdk/amazon-bedrock` adds to the thinking budget when `maxOutputTokens` is unset. */
const BEDROCK_DEFAULT_TEXT_TOKENS = 4096;

function bedrockReasoning(params: LanguageModelV3CallOptions): JSONObject | undefined {
  const config = params.providerOptions?.bedrock?.reasoningConfig;
  return typeof config === 'object' && config !== null && !Array.isArray(config) ? config : undefined;
}

/** The output the provider may bill: text limit plus, for Anthropic thinking, the thinking budget. */
export interface OutputLimits {
  /** Total output tokens asked for (undefined: the model's maximum). */
  maxOutputTokens: number | undefined;
  reasoningBudgetTokens: number | undefined;
}

/**
 * Reads the output bound. With Anthropic thinking on Bedrock the provider sends
 * `maxTokens = maxOutputTokens + budgetTokens` (or `budgetTokens + 4096`), so both count.
 */
export function outputLimits(
  params: LanguageModelV3CallOptions,
  family: ModelFamily,
  bedrock: boolean,
): OutputLimits {
  const reasoning = bedrock && family === 'anthropic' ? bedrockReasoning(params) : undefined;
  const budget = reasoning?.type === 'enabled' ? reasoning.budgetTokens : undefined;
  if (typeof budget !== 'number') {
    return { maxOutputTokens: params.maxOutputTokens, reasoningBudgetTokens: undefined };
  }
  return {
    maxOutputTokens: (params.maxOutputTokens ?? BEDROCK_DEFAULT_TEXT_TOKENS) + budget,
    reasoningBudgetTokens: budget,
  };
}

/**
 * The params to send: the granted total split back into text tokens and thinking budget, so what
 * the provider puts on the wire (`maxOutputTokens + budgetTokens`) equals the grant.
 */
export function grantedParams(
  params: LanguageModelV3CallOptions,
  grantedTotal: number,
  reasoningBudgetTokens: number | undefined,
  abortSignal: AbortSignal,
): LanguageModelV3CallOptions & { abortSignal: AbortSignal } {
  if (reasoningBudgetTokens === undefined) return { ...params, maxOutputTokens: grantedTotal, abortSignal };
  const bedrock = params.providerOptions?.bedrock ?? {};
  return {
    ...params,
    maxOutputTokens: grantedTotal - reasoningBudgetTokens,
    abortSignal,
    providerOptions: {
      ...params.providerOptions,
      bedrock: {
        ...bedrock,
        reasoningConfig: { ...bedrockReasoning(params), budgetTokens: reasoningBudgetTokens },
      },
    },
  };
}
