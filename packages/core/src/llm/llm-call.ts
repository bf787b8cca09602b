import type { Hold, Settlement } from '../lifecycle/hold-types.ts';
import type { Runtime } from '../lifecycle/runtime.ts';
import type { Unit } from '../protocol/enums.ts';
import type { Action, Caps, Metadata, Subject } from '../protocol/types.ts';
import type { PriceCatalog, ResolvedModel } from './catalog.ts';
import type { TokenUsage } from './cost.ts';
import type { EstimateInput } from './estimate-tokens.ts';
import type { PriceDimensions } from './price-dimensions.ts';

// The public shape of a guarded LLM call (`cycles.beginLlmCall`); adapters build on it, so changes
// here are additive only.

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
  /**
   * What the request sets that changes its price (service tier, cache-write TTL, source region); the
   * hold and the commit are both priced with them.
   */
  dimensions?: PriceDimensions;
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
  /**
   * False only when the request provably never left (nothing can have been billed): the one case that
   * releases the hold. Omitted or anything else charges.
   * @default true
   */
  reachedProvider?: boolean;
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
  /**
   * Aborts on a budget cutoff or when the caller's / context's signal aborts: pass it to the request.
   * Created on first read (an AbortSignal costs microseconds); {@link LlmCall.onAbort} is cheaper.
   */
  readonly signal: AbortSignal;
  /** True once the call was aborted (budget cutoff, or the caller's / context's signal). */
  readonly aborted: boolean;
  /**
   * Runs `listener` once when the call aborts, with the reason `signal` would carry (at once if it
   * already has). Returns a function that removes it. A cheap alternative to `signal` listeners.
   */
  onAbort(listener: (reason: unknown) => void): () => void;
  readonly hold: Hold;
  readonly settled: boolean;
  /** Reports cumulative usage so far; `stop` once the next output token would pass the hold. */
  observe(usageSoFar: Partial<TokenUsage>): 'continue' | 'stop';
  /** Commits the real usage (priced, cache tokens included), even above the hold. */
  commit(usage: TokenUsage): Promise<Settlement>;
  /**
   * Settles a failed call, never at $0 if it may have been billed: releases only when `failure` says
   * `reachedProvider: false`; otherwise (also `{}` or no `failure`) commits `partialUsage` if given,
   * else the whole hold.
   */
  fail(error: unknown, failure?: LlmCallFailure): Promise<Settlement>;
  /** Settles an aborted call: like `fail`; only `reachedProvider: false` releases. */
  abort(partialUsage?: Partial<TokenUsage>, options?: { reachedProvider?: boolean }): Promise<Settlement>;
}

/** Everything `beginLlmCall` needs from the instance (internal). */
export interface LlmRuntime extends Runtime {
  catalog: PriceCatalog;
  /** Told of each call `beginLlmCall` grants, before it returns it (telemetry). */
  onLlmCall?: ((call: LlmCall) => void) | undefined;
}

/**
 * A settle-once handle for a streamed LLM response. Adapters feed it usage updates and exactly one of
 * the terminals; whichever terminal fires first settles the call, the rest get the same outcome.
 */
export interface LlmCallTracker {
  /** Cumulative usage reported by the stream; `stop` means stop reading (budget cutoff). */
  usage(usageSoFar: Partial<TokenUsage>): 'continue' | 'stop';
  /** The stream ended normally: commits `usage`, else the last reported usage, else the whole hold. */
  finish(usage?: TokenUsage): Promise<Settlement>;
  /**
   * The stream failed: commits the last reported usage, else the whole hold; releases only when
   * `reachedProvider` is false.
   */
  error(error: unknown, options?: { reachedProvider?: boolean }): Promise<Settlement>;
  /** The stream was abandoned (abort, client disconnect, consumer break, cutoff): like `error`. */
  abort(): Promise<Settlement>;
  /**
   * Wraps an async iterable of provider events: reports `usageOf(chunk)`, stops reading at a cutoff,
   * and settles on completion, error or early return.
   */
  wrap<T>(source: AsyncIterable<T>, usageOf: (chunk: T) => Partial<TokenUsage> | undefined): AsyncIterable<T>;
  readonly settled: boolean;
}
