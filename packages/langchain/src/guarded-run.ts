import type { LlmCallOutcome, Settlement } from '@cycles-guard/core';
import { type LlmCall, StreamSettler, type TokenUsage } from '@cycles-guard/core/llm';

/** How a run ended, passed to `onSettled`: core's per-call outcome plus the LangChain run. */
export interface CyclesRunSettlement extends LlmCallOutcome {
  /** LangChain's run id of the model call. */
  runId: string;
  parentRunId: string | undefined;
  /** LangGraph superstep of an agent turn, when the call ran inside a graph. */
  turn: number | undefined;
  /** The usage committed; undefined when the whole hold was charged (usage unknown) or released. */
  usage: TokenUsage | undefined;
  settlement: Settlement;
}

/**
 * One guarded model run: its reservation, whether its request left (seen by the capped client), and
 * core's `StreamSettler`, which settles it once whichever path gets there first (end, error, abandoned
 * stream) and decides what is charged. It sees reported usage only (no deltas): a run that ends
 * without usage is charged the whole hold.
 */
export class GuardedRun {
  /** True once the capped client passed the request on to the SDK. */
  sent = false;
  /** True when the request failed unbilled (`unbilledBedrockFailure`): nothing to charge. */
  refused = false;
  /** Set when another run claimed the same call options (one `generate()` with several prompts). */
  conflict: Error | undefined;
  /**
   * Why the handler vetoed the run (it got no hold, e.g. the budget refused it), when its request goes
   * through the capped client: that client refuses the request with this error.
   */
  veto: Error | undefined;
  #settler: StreamSettler | undefined;

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
    return this.#settler?.call;
  }

  get settled(): boolean {
    return this.#settler?.settled === true;
  }

  /** The usage the settlement charged, when it was known. */
  get chargedUsage(): TokenUsage | undefined {
    return this.#settler?.finalUsage;
  }

  start(call: LlmCall): void {
    this.#settler = new StreamSettler(call);
  }

  /** Records the final usage a stream reported (Converse `metadata.usage`) before it ended. */
  reported(usage: TokenUsage): void {
    this.#settler?.final(usage);
  }

  /** The run ended: commits its usage; without usage, the whole hold (the call may have been billed). */
  finish(usage: TokenUsage | undefined): Promise<Settlement> | undefined {
    return this.#once((settler) => settler.finish(usage));
  }

  /** Releases a run whose request never reached the provider (cache hit, conflict, refused before sending). */
  release(reason: unknown): Promise<Settlement> | undefined {
    return this.#once((settler) => settler.release(reason));
  }

  /**
   * Its stream was left before the end (consumer `break`): our stop, so the reported usage if it
   * arrived, else (no deltas are seen here) the whole hold.
   */
  abandon(): Promise<Settlement> | undefined {
    return this.#once((settler) => settler.abort());
  }

  /** Settles a failed run per the never-$0 rule. */
  fail(error: unknown): Promise<Settlement> | undefined {
    // Seen by the capped client: its outcome decides. Not seen: only a model known to send through a
    // capped client certainly never sent it; otherwise assume it was billed.
    const reachedProvider = this.sent ? !this.refused : !this.viaCappedClient;
    return this.#once((settler) => settler.error(error, { reachedProvider }));
  }

  #once(settle: (settler: StreamSettler) => Promise<Settlement>): Promise<Settlement> | undefined {
    const settler = this.#settler;
    if (settler === undefined) return undefined;
    if (settler.settled) return settler.settlement;
    const settlement = settle(settler);
    this.onSettling(this, settlement);
    return settlement;
  }
}
