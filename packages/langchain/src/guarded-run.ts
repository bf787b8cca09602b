import type { LlmCall, Settlement, TokenUsage } from '@cycles-guard/core';

/** How a run ended, passed to `onSettled`. */
export interface CyclesRunSettlement {
  /** LangChain's run id of the model call. */
  runId: string;
  parentRunId: string | undefined;
  /** LangGraph superstep of an agent turn, when the call ran inside a graph. */
  turn: number | undefined;
  reservationId: string;
  /** Amount held for the call. */
  reserved: number;
  /** Max output tokens granted (what the cap sends). */
  grantedMaxTokens: number;
  requestedMaxTokens: number;
  capped: boolean;
  /** The usage committed; undefined when the whole hold was charged (usage unknown) or released. */
  usage: TokenUsage | undefined;
  settlement: Settlement;
}

/**
 * One guarded model run: its reservation, whether its request left (seen by the capped client),
 * and the single settlement whichever path gets there first (end, error, abandoned stream).
 */
export class GuardedRun {
  /** True once the capped client passed the request on to the SDK. */
  sent = false;
  /** True when Bedrock refused the request (4xx, 503) or never answered: nothing was billed. */
  refused = false;
  /** Usage reported by a stream before it stopped. */
  partialUsage: TokenUsage | undefined;
  /** Set when another run claimed the same call options (one `generate()` with several prompts). */
  conflict: Error | undefined;
  /**
   * Why the handler vetoed the run (it got no hold, e.g. the budget refused it), when its request goes
   * through the capped client: that client refuses the request with this error.
   */
  veto: Error | undefined;
  /** The usage the settlement charged, when it was known. */
  chargedUsage: TokenUsage | undefined;
  #call: LlmCall | undefined;
  #settlement: Promise<Settlement> | undefined;

  constructor(
    readonly runId: string,
    readonly parentRunId: string | undefined,
    readonly turn: number | undefined,
    /** True when the run's model is known to send through a capped client (so "not seen" means "not sent"). */
    readonly viaCappedClient: boolean,
    /** Told once, when the settlement starts (the handler forgets the run and reports the outcome). */
    private readonly onSettling: (run: GuardedRun, settlement: Promise<Settlement>) => void,
  ) {}

  get call(): LlmCall | undefined {
    return this.#call;
  }

  get settled(): boolean {
    return this.#settlement !== undefined;
  }

  start(call: LlmCall): void {
    this.#call = call;
  }

  /** Commits real usage; missing usage commits the whole hold (the call may have been billed). */
  finish(usage: TokenUsage | undefined): Promise<Settlement> | undefined {
    this.chargedUsage ??= usage;
    return this.#once((call) => (usage === undefined ? call.abort() : call.commit(usage)));
  }

  /** Releases a run whose request never reached the provider (cache hit, conflict, refused before sending). */
  release(reason: unknown): Promise<Settlement> | undefined {
    return this.#once((call) => call.fail(reason, { reachedProvider: false }));
  }

  /** Settles a failed or abandoned run per the never-$0 rule. */
  fail(error: unknown): Promise<Settlement> | undefined {
    // Seen by the capped client: its outcome decides. Not seen: only a model known to send through a
    // capped client certainly never sent it; otherwise assume it was billed.
    const reachedProvider = this.sent ? !this.refused : !this.viaCappedClient;
    if (reachedProvider) this.chargedUsage ??= this.partialUsage;
    return this.#once((call) =>
      call.fail(error, {
        reachedProvider,
        ...(this.partialUsage === undefined ? {} : { partialUsage: this.partialUsage }),
      }),
    );
  }

  #once(settle: (call: LlmCall) => Promise<Settlement>): Promise<Settlement> | undefined {
    const call = this.#call;
    if (call === undefined) return undefined;
    if (this.#settlement === undefined) {
      this.#settlement = settle(call);
      this.onSettling(this, this.#settlement);
    }
    return this.#settlement;
  }
}
