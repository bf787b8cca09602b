import type { TokenUsage } from './cost.ts';
import type { LlmCall, LlmCallTracker } from './llm-call.ts';

export type { LlmCallTracker } from './llm-call.ts';

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
