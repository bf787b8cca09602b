import { currentBudget } from '../lifecycle/budget-context.ts';
import { type ReserveOptions, reserveHold } from '../lifecycle/hold.ts';
import { checkCallInput } from './call-input.ts';
import { grantOutput, refuseCall, sizeCall } from './call-sizing.ts';
import { GuardedLlmCall } from './guarded-call.ts';
import type { LlmCall, LlmCallOptions, LlmRuntime } from './llm-call.ts';

export type { LlmCall, LlmCallFailure, LlmCallOptions, LlmRuntime } from './llm-call.ts';

/**
 * Prices the call, reserves its worst case (or, with a partial hold, at least the input plus
 * `minOutputTokens`), and cuts the output limit so the worst case fits what was held and the caps.
 * Throws InvalidRequestError (naming the field) for a wrong-typed model or input, ModelNotPricedError, BudgetExceededError (nothing is left held) or the authority's error.
 */
export async function beginLlmCall(runtime: LlmRuntime, options: LlmCallOptions): Promise<LlmCall> {
  checkCallInput(options);
  const outerSignal = options.signal ?? currentBudget()?.signal;
  outerSignal?.throwIfAborted();
  const model = runtime.catalog.resolve(options.model, options.dimensions);
  const size = sizeCall(runtime, model, options);
  // Optional fields set only when present, without a spread per field (a hot path).
  const reserve: ReserveOptions = {
    estimate: size.estimate,
    minimum: size.minimum,
    action: options.action ?? { kind: 'llm.completion', name: model.modelId },
  };
  if (options.subject !== undefined) reserve.subject = options.subject;
  if (options.metadata !== undefined) reserve.metadata = options.metadata;
  const hold = await reserveHold(runtime, reserve);
  const { granted, refusal } = grantOutput(runtime, size, model, hold);
  if (refusal !== undefined) return refuseCall(runtime, size, model, hold, { granted, refusal });
  const call = new GuardedLlmCall(runtime, model, hold, {
    size,
    granted,
    reasoningBudgetTokens:
      options.reasoningBudgetTokens === undefined
        ? undefined
        : Math.min(options.reasoningBudgetTokens, Math.max(0, granted - size.minOutput)),
    inputTokensExact: options.inputTokens !== undefined,
    outerSignal,
  });
  runtime.onLlmCall?.(call);
  return call;
}
