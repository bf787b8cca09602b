import type { Settlement } from '../lifecycle/hold.ts';
import type { TokenUsage } from './cost.ts';
import { textTokens } from './estimate-tokens.ts';
import type { LlmCall } from './llm-call.ts';

// The one place that decides what a streamed (or any) LLM response is charged. Adapters only feed it
// what they read (output text, reported counts, the final usage) and say how the stream ended:
//
// - the provider reported the final usage: that usage, however the stream ended;
// - a budget cutoff: the whole hold (the provider may have generated more than reached us);
// - it ended normally, or we stopped it (abort, client disconnect, consumer break), without final
//   usage: what was seen, i.e. the reported counts, else the output estimated from the deltas
//   (ceil(utf8 bytes / 3), capped at the grant) plus the input (reported, else the hold's estimate);
//   when nothing was seen (the adapter does not see every delta), the whole hold;
// - it failed on the provider's side after the request left (an exception frame, a dropped
//   connection, a 5xx): the whole hold, as what was generated past the failure is unknown;
// - it was never sent, or refused unbilled: released.
//
// Never $0 for a request that may have been billed; exactly one settlement, whichever terminal first.

/** Options of {@link StreamSettler}. */
export interface StreamSettlerOptions {
  /**
   * True when every output delta of the stream passes through {@link StreamSettler.text}, from its
   * first byte: output never seen was never generated, so a stream stopped before any delta commits
   * its input alone. False when the adapter sees only reported usage: nothing seen charges the hold.
   * @default false
   */
  seesEveryDelta?: boolean;
}

/** How the stream ended, from the adapter's point of view. */
type Ending = 'finished' | 'stopped' | 'failed';

/** Settles one {@link LlmCall} exactly once from what its response showed (see the rules above). */
export class StreamSettler {
  readonly call: LlmCall;
  readonly #seesEveryDelta: boolean;
  #estimatedOutput = 0;
  #reported: Partial<TokenUsage> | undefined;
  #final: TokenUsage | undefined;
  #changed = false;
  #cutoff = false;
  #settlement: Promise<Settlement> | undefined;

  constructor(call: LlmCall, options: StreamSettlerOptions = {}) {
    this.call = call;
    this.#seesEveryDelta = options.seesEveryDelta === true;
  }

  /** True once a terminal ran (its settlement may still be pending). */
  get settled(): boolean {
    return this.#settlement !== undefined;
  }

  /** The settlement, once a terminal ran. */
  get settlement(): Promise<Settlement> | undefined {
    return this.#settlement;
  }

  /** The final usage the provider reported, if it did. */
  get finalUsage(): TokenUsage | undefined {
    return this.#final;
  }

  /** True once the call was cut off for passing its hold. */
  get cutoff(): boolean {
    return this.#cutoff;
  }

  /** Counts one streamed output text (ignored unless a non-empty string) towards the estimate. */
  text(text: unknown): void {
    if (typeof text !== 'string' || text.length === 0) return;
    this.#estimatedOutput += textTokens(text);
    this.#changed = true;
  }

  /** Records counts the provider reported so far (cumulative: later values replace earlier ones). */
  usage(reported: Partial<TokenUsage>): void {
    const merged: Partial<TokenUsage> = { ...this.#reported };
    for (const [key, value] of Object.entries(reported) as [keyof TokenUsage, number | undefined][]) {
      if (value !== undefined) merged[key] = value;
    }
    this.#reported = merged;
    this.#changed = true;
  }

  /** Records the provider's final, exact usage: it is what the call is charged. */
  final(usage: TokenUsage): void {
    this.#final = usage;
  }

  /**
   * Checks what was fed since the last check against the hold: `stop` at a budget cutoff (the call's
   * signal is then aborted; stop reading). Skipped once the final usage is known.
   */
  check(): 'continue' | 'stop' {
    if (this.#cutoff) return 'stop';
    if (!this.#changed || this.#final !== undefined) return 'continue';
    this.#changed = false;
    if (this.call.observe(this.running()) === 'stop') this.#cutoff = true;
    return this.#cutoff ? 'stop' : 'continue';
  }

  /** Usage so far: the final usage, else the reported counts over the output estimate. */
  running(): Partial<TokenUsage> {
    if (this.#final !== undefined) return this.#final;
    const estimate = Math.min(this.#estimatedOutput, this.call.maxOutputTokens);
    const reported = this.#reported;
    if (reported === undefined) return { outputTokens: estimate };
    return reported.outputTokens === undefined ? { ...reported, outputTokens: estimate } : reported;
  }

  /** The stream ended normally; `usage`, when the end came with it, is the final usage. */
  finish(usage?: TokenUsage): Promise<Settlement> {
    if (usage !== undefined && this.#settlement === undefined) this.#final = usage;
    return this.#settle('finished');
  }

  /** We stopped the stream (abort, client disconnect, consumer break, cutoff). */
  abort(): Promise<Settlement> {
    return this.#settle('stopped');
  }

  /**
   * The request or its stream failed. Releases only when `reachedProvider` is false (never sent, or
   * refused unbilled); otherwise commits the final usage if it arrived, else the whole hold.
   */
  error(error: unknown, options?: { reachedProvider?: boolean }): Promise<Settlement> {
    if (this.#settlement !== undefined) return this.#settlement;
    if (options?.reachedProvider === false) return this.release(error);
    return this.#settle('failed');
  }

  /** Releases the hold: the request never reached the provider (nothing can have been billed). */
  release(reason: unknown): Promise<Settlement> {
    this.#settlement ??= this.call.fail(reason, { reachedProvider: false });
    return this.#settlement;
  }

  /**
   * Passes `source` through: reports `usageOf(chunk)` (cumulative reported counts), stops reading at a
   * cutoff, and settles on completion, error or early exit.
   */
  wrap<T>(
    source: AsyncIterable<T>,
    usageOf: (chunk: T) => Partial<TokenUsage> | undefined,
  ): AsyncIterable<T> {
    const settler = this;
    return {
      async *[Symbol.asyncIterator]() {
        let ended = false;
        try {
          for await (const chunk of source) {
            const usage = usageOf(chunk);
            yield chunk;
            if (usage === undefined) continue;
            settler.usage(usage);
            if (settler.check() === 'stop') break;
          }
          ended = true;
        } catch (error) {
          await (settler.call.aborted ? settler.abort() : settler.error(error)).catch(() => {});
          throw error;
        } finally {
          if (!settler.settled) await (ended ? settler.finish() : settler.abort()).catch(() => {});
        }
      },
    };
  }

  #settle(ending: Ending): Promise<Settlement> {
    if (this.#settlement === undefined) {
      const { call } = this;
      const final = this.#final;
      const seen = this.#seen(ending);
      this.#settlement =
        final !== undefined ? call.commit(final) : seen === undefined ? call.abort() : call.abort(seen);
    }
    return this.#settlement;
  }

  /** What the call is charged without final usage: undefined means the whole hold. */
  #seen(ending: Ending): Partial<TokenUsage> | undefined {
    if (ending === 'failed' || this.#cutoff) return undefined;
    if (this.#reported === undefined && !this.#seesEveryDelta && this.#estimatedOutput === 0)
      return undefined;
    return this.running();
  }
}
