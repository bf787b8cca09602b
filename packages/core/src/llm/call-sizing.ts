import type { Hold } from '../lifecycle/hold-types.ts';
import { BudgetExceededError, invalid } from '../protocol/errors.ts';
import type { ResolvedModel } from './catalog.ts';
import {
  maxAffordableOutputTokens,
  type TokenRates,
  type TokenUsage,
  tokenCost,
  usageCost,
  usageTokens,
} from './cost.ts';
import { estimateInputTokens } from './estimate-tokens.ts';
import type { LlmCallOptions, LlmRuntime } from './llm-call.ts';

// How big an LLM call's hold is, and how many output tokens the hold that came back affords.

/** The worst case of one call, priced in the instance's unit. */
export interface CallSize {
  inputTokens: number;
  /** Output limit asked for, clamped to the model's ceiling. */
  requested: number;
  /** Smallest useful output (`minOutputTokens`, at most `requested`). */
  minOutput: number;
  /** True for TOKENS budgets (amounts are token counts, not money). */
  tokens: boolean;
  /** Rates of the hold: the call's, at long-context rates when the input passes the threshold. */
  rates: TokenRates;
  /** Cost of the input at the dearer of the input and cache-write prices. */
  inputCost: number;
  /** Input plus `requested` output: the full hold. */
  estimate: number;
  /** Input plus `minOutput` output: the smallest partial hold worth taking. */
  minimum: number;
}

export function checkTokens(field: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
    throw invalid(field, `must be a non-negative safe integer, got ${String(value)}`);
  }
}

/** Validates the token options and prices the call's worst case. */
export function sizeCall(runtime: LlmRuntime, model: ResolvedModel, options: LlmCallOptions): CallSize {
  const { price } = model;
  checkTokens('inputTokens', options.inputTokens);
  checkTokens('maxOutputTokens', options.maxOutputTokens);
  checkTokens('reasoningBudgetTokens', options.reasoningBudgetTokens);
  if (options.maxOutputTokens === 0) throw invalid('maxOutputTokens', 'must be at least 1');
  if (options.inputTokens === undefined && options.input === undefined) {
    throw invalid('inputTokens', 'or input is required', 'the hold must cover the input');
  }
  const inputTokens = options.inputTokens ?? estimateInputTokens(options.input ?? '');
  const requested = Math.min(options.maxOutputTokens ?? price.maxOutputTokens, price.maxOutputTokens);
  const minOutput = Math.min(runtime.config.minOutputTokens, requested);
  const tokens = runtime.config.unit === 'TOKENS';
  const rates = ratesFor(model, inputTokens);
  // Input may be written to the prompt cache (at the request's TTL), which can cost more than plain
  // input: hold the dearer.
  const inputCost = tokens
    ? inputTokens
    : tokenCost(inputTokens, Math.max(rates.inputPerMillion, writeRate(model, rates)));
  return {
    inputTokens,
    requested,
    minOutput,
    tokens,
    rates,
    inputCost,
    estimate: inputCost + outputCost(tokens, requested, rates),
    minimum: inputCost + outputCost(tokens, minOutput, rates),
  };
}

/** The call's rates for `inputTokens` of input: long-context rates above the model's threshold. */
function ratesFor(model: ResolvedModel, inputTokens: number): TokenRates {
  const long = model.rates.longContext;
  return long !== undefined && inputTokens > long.aboveInputTokens ? long.rates : model.rates.rates;
}

/** Cache-write rate at the request's TTL. */
function writeRate(model: ResolvedModel, rates: TokenRates): number {
  const fiveMinutes = rates.cacheWritePerMillion ?? 0;
  return model.dimensions.cacheTtl === '1h'
    ? Math.max(fiveMinutes, rates.cacheWrite1hPerMillion ?? 0)
    : fiveMinutes;
}

/** Cost of `count` output tokens (a count itself for TOKENS budgets). A function, not a per-call closure. */
function outputCost(tokens: boolean, count: number, rates: TokenRates): number {
  return tokens ? count : tokenCost(count, rates.outputPerMillion);
}

/**
 * Cost of `usage` in the call's unit, at the same dimensions the hold was sized with: long-context
 * rates when all of its input passes the threshold, and cache writes of a 1-hour request at the
 * 1-hour rate unless the usage says how many were (Converse `cacheDetails`).
 */
export function usageAmount(size: CallSize, model: ResolvedModel, usage: TokenUsage): number {
  if (size.tokens) return usageTokens(usage);
  const input = usage.inputTokens + (usage.cacheReadInputTokens ?? 0) + (usage.cacheWriteInputTokens ?? 0);
  const rates = ratesFor(model, input);
  if (
    model.dimensions.cacheTtl === '1h' &&
    usage.cacheWrite1hInputTokens === undefined &&
    usage.cacheWriteInputTokens
  ) {
    return usageCost({ ...usage, cacheWrite1hInputTokens: usage.cacheWriteInputTokens }, rates);
  }
  return usageCost(usage, rates);
}

/**
 * Output tokens the hold affords, cut further by the authority's caps, and emits `capped` when that is
 * below the request. Returns `refusal` (the grant stands for the message) when the call must not run.
 */
export function grantOutput(
  runtime: LlmRuntime,
  size: CallSize,
  model: ResolvedModel,
  hold: Hold,
): { granted: number; refusal?: string } {
  const { requested, minOutput } = size;
  if (!hold.guarded) return { granted: requested };
  const affordable = size.tokens
    ? Math.max(0, hold.reserved - size.inputTokens)
    : maxAffordableOutputTokens(hold.reserved, size.inputCost, size.rates);
  let granted = Math.min(requested, affordable);
  const capTokens = hold.caps?.maxTokens;
  const cappedByCaps = capTokens !== undefined && capTokens < granted;
  // A budget too small for a useful answer is refused; a cap below the minimum is the authority's call.
  if (granted < minOutput || (cappedByCaps && capTokens < 1)) {
    const refusal =
      `Budget too small for ${model.modelId}: ${granted} output tokens fit, ` +
      `${cappedByCaps ? 'cap is 0' : `at least ${minOutput} are required (minOutputTokens)`}`;
    return { granted, refusal };
  }
  if (cappedByCaps) granted = capTokens;
  if (granted < requested) {
    runtime.emit({
      type: 'capped',
      timeMs: runtime.clock.now(),
      subject: hold.subject,
      action: hold.action,
      unit: runtime.config.unit,
      reservationId: hold.reservationId,
      model: model.modelId,
      requestedMaxOutputTokens: requested,
      grantedMaxOutputTokens: granted,
      reason: cappedByCaps ? 'caps' : 'budget',
      priceVersion: model.priceVersion,
    });
  }
  return { granted };
}

/** Releases the hold of a refused call, emits `denial` and throws BudgetExceededError. */
export async function refuseCall(
  runtime: LlmRuntime,
  size: CallSize,
  model: ResolvedModel,
  hold: Hold,
  grant: { granted: number; refusal: string },
): Promise<never> {
  await hold.release('below minimum output').catch(() => {});
  runtime.emit({
    type: 'denial',
    timeMs: runtime.clock.now(),
    subject: hold.subject,
    action: hold.action,
    unit: runtime.config.unit,
    estimate: hold.estimate,
    code: 'BUDGET_EXCEEDED',
    message: grant.refusal,
    reservationId: hold.reservationId,
    priceVersion: model.priceVersion,
  });
  throw new BudgetExceededError(grant.refusal, {
    details: { model: model.modelId, grantedOutputTokens: grant.granted, minOutputTokens: size.minOutput },
  });
}
