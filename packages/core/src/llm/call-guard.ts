import { currentBudget } from '../lifecycle/budget-context.ts';
import type { Hold, Settlement } from '../lifecycle/hold.ts';
import { reserveHold } from '../lifecycle/hold.ts';
import type { Runtime } from '../lifecycle/runtime.ts';
import type { Unit } from '../protocol/enums.ts';
import { BudgetExceededError, invalid } from '../protocol/errors.ts';
import type { Action, Caps, Metadata, Subject } from '../protocol/types.ts';
import { type LlmCallTracker, trackLlmCall } from './call-tracker.ts';
import type { PriceCatalog, ResolvedModel } from './catalog.ts';
import { maxAffordableOutputTokens, type TokenUsage, tokenCost, usageCost, usageTokens } from './cost.ts';
import { type EstimateInput, estimateInputTokens } from './estimate-tokens.ts';

/** Options of `cycles.beginLlmCall`: one model invocation about to be sent. */
export interface LlmCallOptions {
  /** Bedrock model id, ARN or inference profile; must be priced (unknown models are refused). */
  model: string;
  /** Exact input tokens (e.g. from CountTokens). Makes the output cap hard. */
  inputTokens?: number;
  /** The request's text, estimated conservatively when `inputTokens` is absent. */
  input?: EstimateInput | string;
  /**
   * Output limit the caller asked for; clamped to the model's own ceiling.
   * @default the model's maximum output tokens
   */
  maxOutputTokens?: number;
  /** Extended-thinking budget requested; it is part of the output and is cut with it. */
  reasoningBudgetTokens?: number;
  /** Merged over the instance's and the budget context's subject. */
  subject?: Subject;
  /** @default `{ kind: 'llm.completion', name: <model id> }` */
  action?: Action;
  /**
   * Refuses to start when aborted; aborting later aborts `LlmCall.signal`.
   * @default the budget context's signal
   */
  signal?: AbortSignal;
  /** Stored with the reservation. */
  metadata?: Metadata;
}

/** Whether the provider may have billed, and what is known of the usage, when a call fails. */
export interface LlmCallFailure {
  /** True once any byte of the request may have reached the provider. Only false releases the hold. */
  reachedProvider: boolean;
  /** Usage reported before the failure; missing fields are filled from what was observed. */
  partialUsage?: Partial<TokenUsage>;
}

/** A guarded LLM call: the granted limits to apply, and the ways to settle it (exactly once). */
export interface LlmCall {
  readonly model: ResolvedModel;
  /** False when it runs unguarded (fail-open). */
  readonly guarded: boolean;
  readonly reservationId: string;
  readonly unit: Unit;
  /** Amount held. */
  readonly reserved: number;
  /** Input tokens the hold was sized for. */
  readonly inputTokens: number;
  /** True when `inputTokens` was given rather than estimated. */
  readonly inputTokensExact: boolean;
  /** What was asked for, clamped to the model's ceiling. */
  readonly requestedMaxOutputTokens: number;
  /** The output limit to send: the worst case of it fits the hold. */
  readonly maxOutputTokens: number;
  /** Thinking budget to send (at most `maxOutputTokens - minOutputTokens`), when one was requested. */
  readonly reasoningBudgetTokens: number | undefined;
  /** True when `maxOutputTokens < requestedMaxOutputTokens`. */
  readonly capped: boolean;
  readonly caps: Caps | undefined;
  /** Aborts on a budget cutoff or when the caller's / context's signal aborts: pass it to the request. */
  readonly signal: AbortSignal;
  readonly hold: Hold;
  readonly settled: boolean;
  /** Reports cumulative usage so far; `stop` once the next output token would pass the hold. */
  observe(usageSoFar: Partial<TokenUsage>): 'continue' | 'stop';
  /** Commits the real usage (priced, cache tokens included), even above the hold. */
  commit(usage: TokenUsage): Promise<Settlement>;
  /**
   * Settles a failed call, never at $0 if it may have been billed: releases only when it never reached
   * the provider; otherwise commits `partialUsage` if given, else the whole hold.
   */
  fail(error: unknown, failure: LlmCallFailure): Promise<Settlement>;
  /** Settles an aborted call: like `fail` with `reachedProvider` (default true). */
  abort(partialUsage?: Partial<TokenUsage>, options?: { reachedProvider?: boolean }): Promise<Settlement>;
  /** A settle-once handle for a streamed response (usage updates + one terminal). */
  track(): LlmCallTracker;
}

/** Everything `beginLlmCall` needs from the instance (internal). */
export interface LlmRuntime extends Runtime {
  catalog: PriceCatalog;
}

function checkTokens(field: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
    throw invalid(field, `must be a non-negative safe integer, got ${String(value)}`);
  }
}

/**
 * Prices the call, reserves its worst case (or, with a partial hold, at least the input plus
 * `minOutputTokens`), and cuts the output limit so the worst case fits what was held and the caps.
 * Throws ModelNotPricedError, BudgetExceededError (nothing is left held) or the authority's error.
 */
export async function beginLlmCall(runtime: LlmRuntime, options: LlmCallOptions): Promise<LlmCall> {
  const outerSignal = options.signal ?? currentBudget()?.signal;
  outerSignal?.throwIfAborted();
  const model = runtime.catalog.resolve(options.model);
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
  const unit = runtime.config.unit;
  const tokens = unit === 'TOKENS';
  // Input may be written to the prompt cache, which can cost more than plain input: hold the dearer.
  const inputRate = Math.max(price.inputPerMillion, price.cacheWritePerMillion ?? 0);
  const inputCost = tokens ? inputTokens : tokenCost(inputTokens, inputRate);
  const outputCost = (count: number) => (tokens ? count : tokenCost(count, price.outputPerMillion));
  const affordable = (held: number) =>
    tokens ? Math.max(0, held - inputTokens) : maxAffordableOutputTokens(held, inputCost, price);

  const hold = await reserveHold(runtime, {
    estimate: inputCost + outputCost(requested),
    minimum: inputCost + outputCost(minOutput),
    action: options.action ?? { kind: 'llm.completion', name: model.modelId },
    ...(options.subject === undefined ? {} : { subject: options.subject }),
    ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
  });

  let granted = requested;
  let reason: 'budget' | 'caps' = 'budget';
  if (hold.guarded) {
    granted = Math.min(requested, affordable(hold.reserved));
    const capTokens = hold.caps?.maxTokens;
    const cappedByCaps = capTokens !== undefined && capTokens < granted;
    // A budget too small for a useful answer is refused; a cap below the minimum is the authority's call.
    if (granted < minOutput || (cappedByCaps && capTokens < 1)) {
      await hold.release('below minimum output').catch(() => {});
      const message =
        `Budget too small for ${model.modelId}: ${granted} output tokens fit, ` +
        `${cappedByCaps ? 'cap is 0' : `at least ${minOutput} are required (minOutputTokens)`}`;
      runtime.emit({
        type: 'denial',
        timeMs: runtime.clock.now(),
        subject: hold.subject,
        action: hold.action,
        unit,
        estimate: hold.estimate,
        code: 'BUDGET_EXCEEDED',
        message,
        reservationId: hold.reservationId,
      });
      throw new BudgetExceededError(message, {
        details: { model: model.modelId, grantedOutputTokens: granted, minOutputTokens: minOutput },
      });
    }
    if (cappedByCaps) {
      granted = capTokens;
      reason = 'caps';
    }
    if (granted < requested) {
      runtime.emit({
        type: 'capped',
        timeMs: runtime.clock.now(),
        subject: hold.subject,
        action: hold.action,
        unit,
        reservationId: hold.reservationId,
        model: model.modelId,
        requestedMaxOutputTokens: requested,
        grantedMaxOutputTokens: granted,
        reason,
      });
    }
  }

  const controller = new AbortController();
  const forwardAbort = () => controller.abort(outerSignal?.reason);
  if (outerSignal?.aborted) forwardAbort();
  else outerSignal?.addEventListener('abort', forwardAbort, { once: true });
  // A long-lived outer signal (e.g. a process-wide one) must not collect one listener per call.
  const settling = (settlement: Promise<Settlement>) => {
    outerSignal?.removeEventListener('abort', forwardAbort);
    return settlement;
  };
  const costOf = (usage: TokenUsage) => (tokens ? usageTokens(usage) : usageCost(usage, price));
  let observed: TokenUsage = { inputTokens, outputTokens: 0 };
  let cutoff = false;
  const fill = (partial: Partial<TokenUsage>): TokenUsage => {
    const merged = { ...observed };
    for (const [key, value] of Object.entries(partial) as [keyof TokenUsage, number | undefined][]) {
      if (value !== undefined) {
        checkTokens(key, value);
        merged[key] = value;
      }
    }
    return merged;
  };
  const metrics = (usage: TokenUsage) => ({
    tokensInput: usage.inputTokens + (usage.cacheReadInputTokens ?? 0) + (usage.cacheWriteInputTokens ?? 0),
    tokensOutput: usage.outputTokens,
    modelVersion: model.modelId.slice(0, 128),
  });
  const commitUsage = (usage: TokenUsage) => settling(hold.commit(costOf(usage), metrics(usage)));
  const settleFailure = (partialUsage: Partial<TokenUsage> | undefined, reachedProvider: boolean) => {
    if (hold.settled) return hold.settlement as Promise<Settlement>;
    if (!reachedProvider) return settling(hold.release('not sent'));
    if (partialUsage !== undefined) return commitUsage(fill(partialUsage));
    // Usage unknown: the provider may have billed up to the worst case, which is what was held.
    return settling(hold.commit(hold.guarded ? hold.reserved : 0));
  };

  const call: LlmCall = {
    model,
    guarded: hold.guarded,
    reservationId: hold.reservationId,
    unit,
    reserved: hold.reserved,
    inputTokens,
    inputTokensExact: options.inputTokens !== undefined,
    requestedMaxOutputTokens: requested,
    maxOutputTokens: granted,
    reasoningBudgetTokens:
      options.reasoningBudgetTokens === undefined
        ? undefined
        : Math.min(options.reasoningBudgetTokens, Math.max(0, granted - minOutput)),
    capped: granted < requested,
    caps: hold.caps,
    signal: controller.signal,
    hold,
    get settled() {
      return hold.settled;
    },
    observe(usageSoFar) {
      observed = fill(usageSoFar);
      if (!hold.guarded) return 'continue';
      if (cutoff) return 'stop';
      const cost = costOf(observed);
      const next = costOf({ ...observed, outputTokens: observed.outputTokens + 1 });
      // At the granted limit the model stops by itself; only a real overrun is cut off.
      const over = cost > hold.reserved || (next > hold.reserved && observed.outputTokens < granted);
      if (!over) return 'continue';
      cutoff = true;
      runtime.emit({
        type: 'cutoff',
        timeMs: runtime.clock.now(),
        subject: hold.subject,
        action: hold.action,
        unit,
        reservationId: hold.reservationId,
        model: model.modelId,
        reserved: hold.reserved,
        cost,
        outputTokens: observed.outputTokens,
      });
      controller.abort(
        new BudgetExceededError(`Budget cutoff: ${model.modelId} reached its hold of ${hold.reserved}`),
      );
      return 'stop';
    },
    commit(usage) {
      for (const [key, value] of Object.entries(usage)) checkTokens(key, value as number | undefined);
      return commitUsage(usage);
    },
    fail(_error, failure) {
      return settleFailure(failure.partialUsage, failure.reachedProvider);
    },
    abort(partialUsage, abortOptions) {
      return settleFailure(partialUsage, abortOptions?.reachedProvider ?? true);
    },
    track() {
      return trackLlmCall(call);
    },
  };
  return call;
}
