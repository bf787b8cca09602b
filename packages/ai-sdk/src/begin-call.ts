import type { LanguageModelV3, LanguageModelV3CallOptions } from '@ai-sdk/provider';
import { BudgetExceededError, currentBudget, currentCycles, ModelNotPricedError } from '@cycles-guard/core';
import {
  type LlmCall,
  type LlmCallOptions,
  mergeSubjects,
  normalizeModelId,
  type ServiceTier,
} from '@cycles-guard/core/llm';
import {
  grantedParams,
  MIN_THINKING_BUDGET_TOKENS,
  type OutputLimits,
  outputLimits,
  promptInput,
} from './call-request.ts';
import {
  CYCLES_PROVIDER_OPTIONS_KEY,
  type CyclesCallOptions,
  type CyclesMiddlewareOptions,
} from './options.ts';

function isBedrock(model: LanguageModelV3): boolean {
  return model.provider.includes('bedrock');
}

function overridesOf(params: LanguageModelV3CallOptions): CyclesCallOptions {
  const value = params.providerOptions?.[CYCLES_PROVIDER_OPTIONS_KEY];
  return (value ?? {}) as CyclesCallOptions;
}

function thinkingTooSmall(call: LlmCall, limits: OutputLimits, granted: number): BudgetExceededError {
  const field = `providerOptions.${limits.thinking?.providerKey}.${limits.thinking?.configKey}.budgetTokens`;
  return new BudgetExceededError(
    `Budget too small for thinking on ${call.model.modelId}: ${field} would be cut to ${granted}, below ` +
      `Anthropic's minimum of ${MIN_THINKING_BUDGET_TOKENS}; lower budgetTokens or disable thinking`,
    { details: { field, grantedReasoningBudgetTokens: granted } },
  );
}

/**
 * Prices, holds and caps one model call: Bedrock ids through the core catalog, other providers only
 * when priced in `createCycles({ prices })`. Returns the params to send (output limit = the grant).
 */
export async function beginModelCall(
  options: CyclesMiddlewareOptions,
  params: LanguageModelV3CallOptions,
  model: LanguageModelV3,
): Promise<{ call: LlmCall; sent: LanguageModelV3CallOptions }> {
  params.abortSignal?.throwIfAborted();
  const cycles = options.cycles ?? currentCycles();
  const bedrock = isBedrock(model);
  if (!bedrock && !cycles.catalog.has(model.modelId)) {
    throw new ModelNotPricedError(
      `No price for '${model.modelId}' of provider '${model.provider}': only Bedrock models are priced by ` +
        `default. Add createCycles({ prices: { '${model.modelId}': { inputPerMillion, outputPerMillion, ` +
        'maxOutputTokens } } }) (USD microcents per 1M tokens: $3.00/M = 300000000).',
      { details: { field: 'prices', modelId: model.modelId, provider: model.provider } },
    );
  }
  const overrides = overridesOf(params);
  const limits = outputLimits(params, model.provider, normalizeModelId(model.modelId).family);
  const action = overrides.action ?? options.action;
  // Optional fields set only when present, without a spread per field (a hot path).
  const callOptions: LlmCallOptions = { model: model.modelId };
  if (overrides.inputTokens === undefined) callOptions.input = promptInput(params);
  else callOptions.inputTokens = overrides.inputTokens;
  if (limits.maxOutputTokens !== undefined) callOptions.maxOutputTokens = limits.maxOutputTokens;
  if (limits.reasoningBudgetTokens !== undefined)
    callOptions.reasoningBudgetTokens = limits.reasoningBudgetTokens;
  if (options.subject !== undefined || overrides.subject !== undefined) {
    const subject = mergeSubjects(options.subject, overrides.subject);
    if (Object.keys(subject).length > 0) callOptions.subject = subject;
  }
  if (action !== undefined) callOptions.action = action;
  // `providerOptions.bedrock.serviceTier` (priority/flex/...) changes the price: hold and commit at it.
  const serviceTier = params.providerOptions?.bedrock?.serviceTier;
  if (bedrock && typeof serviceTier === 'string')
    callOptions.dimensions = { serviceTier: serviceTier as ServiceTier };
  const call = await cycles.beginLlmCall(callOptions);
  const reasoning = call.reasoningBudgetTokens;
  const requested = limits.reasoningBudgetTokens;
  // Cut below the minimum the model accepts: refuse now rather than send a request it rejects.
  if (requested !== undefined && (reasoning ?? 0) < Math.min(requested, MIN_THINKING_BUDGET_TOKENS)) {
    const error = thinkingTooSmall(call, limits, reasoning ?? 0);
    await call.fail(error, { reachedProvider: false });
    throw error;
  }
  // call.signal follows the budget context's signal (client disconnect). With neither that nor the
  // caller's signal nothing can abort the request (the output cap keeps a stream within its hold, so
  // no cutoff fires), and fetch runs faster without one.
  const contextSignal = currentBudget()?.signal;
  const signal =
    params.abortSignal === undefined
      ? contextSignal === undefined
        ? undefined
        : call.signal
      : AbortSignal.any([params.abortSignal, call.signal]);
  if (signal?.aborted) {
    // Aborted while the hold was being taken: nothing was sent, so nothing is charged.
    await call.fail(signal.reason, { reachedProvider: false });
    throw signal.reason;
  }
  return { call, sent: grantedParams(params, call.maxOutputTokens, limits, reasoning, signal) };
}
