import type {
  LanguageModelV3,
  LanguageModelV3CallOptions,
  LanguageModelV3Middleware,
  SharedV3ProviderMetadata,
} from '@ai-sdk/provider';
import {
  type Action,
  BudgetExceededError,
  type Cycles,
  currentBudget,
  currentCycles,
  type LlmCall,
  ModelNotPricedError,
  mergeSubjects,
  normalizeModelId,
  type Settlement,
  type Subject,
} from '@cycles-guard/core';
import { grantedParams, MIN_THINKING_BUDGET_TOKENS, outputLimits, promptInput } from './call-request.ts';
import { settleThrown } from './failure.ts';
import { guardStream } from './guard-stream.ts';
import { tokenUsage } from './usage.ts';

/** Options of {@link cyclesMiddleware}. */
export interface CyclesMiddlewareOptions {
  /**
   * The Cycles instance that prices and holds each model call.
   * @default the budget context's instance, else the process default (`currentCycles()`)
   */
  cycles?: Cycles;
  /**
   * Subject merged over the budget context's subject (these levels win).
   * @default the budget context's subject
   */
  subject?: Subject;
  /**
   * Action recorded with each reservation.
   * @default `{ kind: 'llm.completion', name: <model id> }`
   */
  action?: Action;
}

/** Per-call overrides, passed as `providerOptions: { cycles: { ... } }` to generateText/streamText. */
export interface CyclesCallOptions {
  /** Merged over the middleware's and the budget context's subject. */
  subject?: Subject;
  /** Action recorded with this call's reservation. */
  action?: Action;
  /** Exact input tokens (e.g. from a tokenizer); makes the output cap hard. Default: an estimate. */
  inputTokens?: number;
}

/** Key of the per-call overrides in `providerOptions`. */
export const CYCLES_PROVIDER_OPTIONS_KEY = 'cycles';

/** What the guard did to one model call: `providerMetadata.cycles` on results and `finish` parts. */
export interface CyclesCallMetadata {
  [key: string]: string | number | boolean;
  reservationId: string;
  /** Output tokens sent to the model (thinking budget included). */
  grantedMaxOutputTokens: number;
  requestedMaxOutputTokens: number;
  capped: boolean;
  /** Amount committed, in the instance's unit (0 when released). */
  charged: number;
}

function isBedrock(model: LanguageModelV3): boolean {
  return model.provider.includes('bedrock');
}

function overridesOf(params: LanguageModelV3CallOptions): CyclesCallOptions {
  const value = params.providerOptions?.[CYCLES_PROVIDER_OPTIONS_KEY];
  return (value ?? {}) as CyclesCallOptions;
}

function metadata(call: LlmCall, settlement: Settlement | undefined): CyclesCallMetadata {
  return {
    reservationId: call.reservationId,
    grantedMaxOutputTokens: call.maxOutputTokens,
    requestedMaxOutputTokens: call.requestedMaxOutputTokens,
    capped: call.capped,
    charged: settlement?.status === 'committed' ? settlement.charged : 0,
  };
}

function withMetadata(
  providerMetadata: SharedV3ProviderMetadata | undefined,
  value: CyclesCallMetadata,
): SharedV3ProviderMetadata {
  return { ...providerMetadata, [CYCLES_PROVIDER_OPTIONS_KEY]: value };
}

/**
 * Prices, holds and caps one model call: Bedrock ids through the core catalog, other providers only
 * when priced in `createCycles({ prices })`. Returns the params to send (output limit = the grant).
 */
async function begin(
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
  const subject = mergeSubjects(options.subject, overrides.subject);
  const action = overrides.action ?? options.action;
  const call = await cycles.beginLlmCall({
    model: model.modelId,
    ...(overrides.inputTokens === undefined
      ? { input: promptInput(params) }
      : { inputTokens: overrides.inputTokens }),
    ...(limits.maxOutputTokens === undefined ? {} : { maxOutputTokens: limits.maxOutputTokens }),
    ...(limits.reasoningBudgetTokens === undefined
      ? {}
      : { reasoningBudgetTokens: limits.reasoningBudgetTokens }),
    ...(Object.keys(subject).length === 0 ? {} : { subject }),
    ...(action === undefined ? {} : { action }),
  });
  const reasoning = call.reasoningBudgetTokens;
  if (limits.reasoningBudgetTokens !== undefined && (reasoning ?? 0) < MIN_THINKING_BUDGET_TOKENS) {
    const error = new BudgetExceededError(
      `Budget too small for thinking on ${call.model.modelId}: providerOptions.${limits.thinking?.providerKey}.` +
        `${limits.thinking?.configKey}.budgetTokens ` +
        `would be cut to ${reasoning ?? 0}, below Bedrock's minimum of ${MIN_THINKING_BUDGET_TOKENS}; ` +
        'lower budgetTokens or disable reasoning',
      {
        details: {
          field: `providerOptions.${limits.thinking?.providerKey}.${limits.thinking?.configKey}.budgetTokens`,
          grantedReasoningBudgetTokens: reasoning ?? 0,
        },
      },
    );
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
  return { call, sent: grantedParams(params, call.maxOutputTokens, limits, reasoning, signal) };
}

/**
 * AI SDK language-model middleware: every inner model call (each tool-loop step, each retry) reserves
 * its worst case before the request leaves, sends `maxOutputTokens` cut to what the hold pays for, and
 * settles exactly once from the reported usage. Use with `wrapLanguageModel({ model, middleware })`.
 * A denial throws `BudgetExceededError`, which the AI SDK does not retry.
 */
export function cyclesMiddleware(options: CyclesMiddlewareOptions = {}): LanguageModelV3Middleware {
  return {
    specificationVersion: 'v3',
    async wrapGenerate({ params, model }) {
      const { call, sent } = await begin(options, params, model);
      let result: Awaited<ReturnType<LanguageModelV3['doGenerate']>>;
      try {
        result = await model.doGenerate(sent);
      } catch (error) {
        await settleThrown(call, error, sent.abortSignal);
        throw error;
      }
      const usage = tokenUsage(result.usage);
      // No usage from an answered call: it was billed, so the whole hold is charged (never $0).
      const settlement = await (usage === undefined ? call.abort() : call.commit(usage));
      return {
        ...result,
        providerMetadata: withMetadata(result.providerMetadata, metadata(call, settlement)),
      };
    },
    async wrapStream({ params, model }) {
      const { call, sent } = await begin(options, params, model);
      let result: Awaited<ReturnType<LanguageModelV3['doStream']>>;
      try {
        result = await model.doStream(sent);
      } catch (error) {
        await settleThrown(call, error, sent.abortSignal);
        throw error;
      }
      const stream = guardStream(result.stream, call, (part, settlement) => ({
        ...part,
        providerMetadata: withMetadata(part.providerMetadata, metadata(call, settlement)),
      }));
      return { ...result, stream };
    },
  };
}
