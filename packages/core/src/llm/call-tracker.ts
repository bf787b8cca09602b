import type { Settlement } from '../lifecycle/hold.ts';
import type { TokenUsage } from './cost.ts';
import type { LlmCall } from './llm-call.ts';

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

/** Builds the tracker of `call` (see `LlmCall.track`). */
export function trackLlmCall(call: LlmCall): LlmCallTracker {
  let reported: Partial<TokenUsage> | undefined;
  let cutoff = false;
  // After a cutoff the provider may have produced more than the last report: charge the hold.
  const known = () => (cutoff ? undefined : reported);
  const tracker: LlmCallTracker = {
    usage(usageSoFar) {
      reported = { ...reported, ...usageSoFar };
      const verdict = call.observe(usageSoFar);
      if (verdict === 'stop') cutoff = true;
      return verdict;
    },
    finish(usage) {
      if (usage !== undefined) return call.commit(usage);
      const last = known();
      return last === undefined ? call.abort() : call.abort(last);
    },
    error(error, options) {
      const last = known();
      return call.fail(error, {
        reachedProvider: options?.reachedProvider !== false,
        ...(last === undefined ? {} : { partialUsage: last }),
      });
    },
    abort() {
      const last = known();
      return last === undefined ? call.abort() : call.abort(last);
    },
    wrap(source, usageOf) {
      return {
        async *[Symbol.asyncIterator]() {
          let ended = false;
          try {
            for await (const chunk of source) {
              const usage = usageOf(chunk);
              yield chunk;
              if (usage !== undefined && tracker.usage(usage) === 'stop') break;
            }
            ended = !cutoff;
            if (ended) await tracker.finish();
          } catch (error) {
            ended = true;
            await tracker.error(error).catch(() => {});
            throw error;
          } finally {
            if (!ended) await tracker.abort().catch(() => {});
          }
        },
      };
    },
    get settled() {
      return call.settled;
    },
  };
  return tracker;
}
