import type { Hold } from '../lifecycle/hold.ts';
import { BudgetExceededError, invalid } from '../protocol/errors.ts';
import type { ResolvedModel } from './catalog.ts';
import { maxAffordableOutputTokens, type TokenUsage, tokenCost, usageCost, usageTokens } from './cost.ts';
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
  // Input may be written to the prompt cache, which can cost more than plain input: hold the dearer.
  const inputCost = tokens
    ? inputTokens
    : tokenCost(inputTokens, Math.max(price.inputPerMillion, price.cacheWritePerMillion ?? 0));
  return {
    inputTokens,
    requested,
    minOutput,
    tokens,
    inputCost,
    estimate: inputCost + outputCost(tokens, requested, price),
    minimum: inputCost + outputCost(tokens, minOutput, price),
  };
}

/** Cost of `count` output tokens (a count itself for TOKENS budgets). A function, not a per-call closure. */
function outputCost(tokens: boolean, count: number, price: ResolvedModel['price']): number {
  return tokens ? count : tokenCost(count, price.outputPerMillion);
}

/** Cost of `usage` in the call's unit (cache tokens priced at their own rates). */
export function usageAmount(size: CallSize, model: ResolvedModel, usage: TokenUsage): number {
  return size.tokens ? usageTokens(usage) : usageCost(usage, model.price);
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
    : maxAffordableOutputTokens(hold.reserved, size.inputCost, model.price);
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
  });
  throw new BudgetExceededError(grant.refusal, {
    details: { model: model.modelId, grantedOutputTokens: grant.granted, minOutputTokens: size.minOutput },
  });
}
