import type { Hold, Settlement } from '../lifecycle/hold-types.ts';
import type { Unit } from '../protocol/enums.ts';
import { BudgetExceededError } from '../protocol/errors.ts';
import type { Caps } from '../protocol/types.ts';
import { type CallSize, checkTokens, usageAmount } from './call-sizing.ts';
import type { ResolvedModel } from './catalog.ts';
import type { TokenUsage } from './cost.ts';
import type { LlmCall, LlmCallFailure, LlmRuntime } from './llm-call.ts';
import { priceMetadata } from './price-metadata.ts';

// One granted LLM call: watches usage for a cutoff, forwards aborts, and settles its hold once.
// A class, not a closure bundle: a call is made per request, so its methods live on the prototype.

/** What `beginLlmCall` decided, for {@link GuardedLlmCall}. */
export interface CallGrant {
  size: CallSize;
  granted: number;
  reasoningBudgetTokens: number | undefined;
  inputTokensExact: boolean;
  outerSignal: AbortSignal | undefined;
}

export class GuardedLlmCall implements LlmCall {
  readonly guarded: boolean;
  readonly reservationId: string;
  readonly unit: Unit;
  readonly reserved: number;
  readonly inputTokens: number;
  readonly inputTokensExact: boolean;
  readonly requestedMaxOutputTokens: number;
  readonly maxOutputTokens: number;
  readonly reasoningBudgetTokens: number | undefined;
  readonly capped: boolean;
  readonly caps: Caps | undefined;

  readonly #runtime: LlmRuntime;
  readonly #size: CallSize;
  readonly #outer: AbortSignal | undefined;
  #forwardAbort: (() => void) | undefined;
  // Aborting is tracked here; an AbortController (costly to create in Node) only once `signal` is read.
  #controller: AbortController | undefined;
  #aborted = false;
  #abortReason: unknown;
  #abortListeners: ((reason: unknown) => void)[] | undefined;
  #observed: TokenUsage;
  #cutoff = false;

  constructor(
    runtime: LlmRuntime,
    readonly model: ResolvedModel,
    readonly hold: Hold,
    grant: CallGrant,
  ) {
    const { size, granted, outerSignal } = grant;
    this.#runtime = runtime;
    this.#size = size;
    this.guarded = hold.guarded;
    this.reservationId = hold.reservationId;
    this.unit = runtime.config.unit;
    this.reserved = hold.reserved;
    this.inputTokens = size.inputTokens;
    this.inputTokensExact = grant.inputTokensExact;
    this.requestedMaxOutputTokens = size.requested;
    this.maxOutputTokens = granted;
    this.reasoningBudgetTokens = grant.reasoningBudgetTokens;
    this.capped = granted < size.requested;
    this.caps = hold.caps;
    this.#observed = { inputTokens: size.inputTokens, outputTokens: 0 };
    this.#outer = outerSignal;
    if (outerSignal?.aborted) this.#abort(outerSignal.reason);
    else if (outerSignal !== undefined) {
      this.#forwardAbort = () => this.#abort(outerSignal.reason);
      outerSignal.addEventListener('abort', this.#forwardAbort, { once: true });
    }
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  onAbort(listener: (reason: unknown) => void): () => void {
    if (this.#aborted) {
      listener(this.#abortReason);
      return () => {};
    }
    this.#abortListeners ??= [];
    this.#abortListeners.push(listener);
    return () => {
      const index = this.#abortListeners?.indexOf(listener) ?? -1;
      if (index >= 0) this.#abortListeners?.splice(index, 1);
    };
  }

  get settled(): boolean {
    return this.hold.settled;
  }

  observe(usageSoFar: Partial<TokenUsage>): 'continue' | 'stop' {
    this.#observed = this.#fill(usageSoFar);
    if (!this.hold.guarded) return 'continue';
    if (this.#cutoff) return 'stop';
    const { hold } = this;
    const observed = this.#observed;
    const cost = usageAmount(this.#size, this.model, observed);
    const next = usageAmount(this.#size, this.model, {
      ...observed,
      outputTokens: observed.outputTokens + 1,
    });
    // At the granted limit the model stops by itself; only a real overrun is cut off.
    const over =
      cost > hold.reserved || (next > hold.reserved && observed.outputTokens < this.maxOutputTokens);
    if (!over) return 'continue';
    this.#cutoff = true;
    this.#runtime.emit({
      type: 'cutoff',
      timeMs: this.#runtime.clock.now(),
      subject: hold.subject,
      action: hold.action,
      unit: this.unit,
      reservationId: hold.reservationId,
      model: this.model.modelId,
      reserved: hold.reserved,
      cost,
      outputTokens: observed.outputTokens,
      priceVersion: this.model.priceVersion,
    });
    this.#abort(
      new BudgetExceededError(`Budget cutoff: ${this.model.modelId} reached its hold of ${hold.reserved}`),
    );
    return 'stop';
  }

  commit(usage: TokenUsage): Promise<Settlement> {
    const keys = Object.keys(usage);
    for (let index = 0; index < keys.length; index++) {
      const key = keys[index] as keyof TokenUsage;
      checkTokens(key, usage[key]);
    }
    return this.#commitUsage(usage);
  }

  // Only an explicit `reachedProvider: false` releases: `{}`, a missing argument (JavaScript) or any
  // other value may have been billed, so it charges (never $0).
  fail(_error: unknown, failure?: LlmCallFailure): Promise<Settlement> {
    return this.#settleFailure(failure?.partialUsage, failure?.reachedProvider !== false);
  }

  abort(partialUsage?: Partial<TokenUsage>, options?: { reachedProvider?: boolean }): Promise<Settlement> {
    return this.#settleFailure(partialUsage, options?.reachedProvider !== false);
  }

  /** Aborts once: the signal (if created) and the `onAbort` listeners get `reason`. */
  #abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
    const listeners = this.#abortListeners;
    this.#abortListeners = undefined;
    for (const listener of listeners ?? []) {
      try {
        listener(reason);
      } catch (error) {
        // Like an EventTarget listener: one that throws is reported, the others still run.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  /** Merges reported usage over what was observed; every reported count is validated. */
  #fill(partial: Partial<TokenUsage>): TokenUsage {
    const merged = { ...this.#observed };
    for (const [key, value] of Object.entries(partial) as [keyof TokenUsage, number | undefined][]) {
      if (value !== undefined) {
        checkTokens(key, value);
        merged[key] = value;
      }
    }
    return merged;
  }

  // A long-lived outer signal (e.g. a process-wide one) must not collect one listener per call.
  #settling(settlement: Promise<Settlement>): Promise<Settlement> {
    if (this.#forwardAbort !== undefined) {
      this.#outer?.removeEventListener('abort', this.#forwardAbort);
      this.#forwardAbort = undefined;
    }
    return settlement;
  }

  #commitUsage(usage: TokenUsage): Promise<Settlement> {
    const metrics = {
      tokensInput: usage.inputTokens + (usage.cacheReadInputTokens ?? 0) + (usage.cacheWriteInputTokens ?? 0),
      tokensOutput: usage.outputTokens,
      modelVersion: this.model.modelId.slice(0, 128),
    };
    return this.#settling(
      this.hold.commit(usageAmount(this.#size, this.model, usage), metrics, priceMetadata(this.model)),
    );
  }

  #settleFailure(
    partialUsage: Partial<TokenUsage> | undefined,
    reachedProvider: boolean,
  ): Promise<Settlement> {
    const { hold } = this;
    if (hold.settled) return hold.settlement as Promise<Settlement>;
    if (!reachedProvider) return this.#settling(hold.release('not sent'));
    if (partialUsage !== undefined) return this.#commitUsage(this.#fill(partialUsage));
    // Usage unknown: the provider may have billed up to the worst case, which is what was held.
    return this.#settling(
      hold.commit(hold.guarded ? hold.reserved : 0, undefined, priceMetadata(this.model)),
    );
  }
}
