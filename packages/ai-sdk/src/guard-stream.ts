import type { LanguageModelV3StreamPart } from '@ai-sdk/provider';
import type { Settlement } from '@cycles-guard/core';
import { type LlmCall, StreamSettler } from '@cycles-guard/core/llm';
import { isAbortError } from './failure.ts';
import { tokenUsage } from './usage.ts';

const ignore = () => {};

type FinishPart = Extract<LanguageModelV3StreamPart, { type: 'finish' }>;

/** Output text of a part, for the settler's estimate. */
function deltaText(part: LanguageModelV3StreamPart): string | undefined {
  return part.type === 'text-delta' || part.type === 'reasoning-delta' || part.type === 'tool-input-delta'
    ? part.delta
    : undefined;
}

/**
 * Passes the provider's stream through, feeding core's `StreamSettler` (which decides what is
 * charged) and settling exactly once: at the `finish` part (before it is passed on, so the ledger is
 * settled when the caller sees the end), when the read fails (our abort, or the provider's failure),
 * or when the reader cancels (consumer abort; the provider stream is stopped too). A budget cutoff
 * needs no branch: core aborts the call's signal, which this request carries, and the read then
 * fails. `annotateFinish` may add what was charged to the `finish` part.
 */
export function guardStream(
  source: ReadableStream<LanguageModelV3StreamPart>,
  call: LlmCall,
  annotateFinish: (part: FinishPart, settlement: Settlement | undefined) => FinishPart,
): ReadableStream<LanguageModelV3StreamPart> {
  // Every part of the provider's stream passes here from its first byte.
  const settler = new StreamSettler(call, { seesEveryDelta: true });
  const reader = source.getReader();
  let providerError: { error: unknown } | undefined;
  let settlement: Settlement | undefined;
  const settle = async (settling: () => Promise<Settlement>) => {
    if (settler.settled) return;
    settlement = await settling().catch(() => undefined);
  };
  return new ReadableStream<LanguageModelV3StreamPart>({
    async pull(controller) {
      let next: Awaited<ReturnType<typeof reader.read>>;
      try {
        next = await reader.read();
      } catch (error) {
        // After our abort (cutoff, client disconnect, the caller's signal) the failure is our stop.
        const stopped = call.aborted || isAbortError(error);
        await settle(() => (stopped ? settler.abort() : settler.error(error)));
        controller.error(error);
        return;
      }
      if (next.done) {
        await settle(() =>
          providerError === undefined ? settler.finish() : settler.error(providerError.error),
        );
        controller.close();
        return;
      }
      const part = next.value;
      if (part.type === 'error') providerError = { error: part.error };
      if (part.type === 'finish') {
        const usage = tokenUsage(part.usage);
        // After a provider error the finish part carries no usage: settle it as the failure it was.
        await settle(() =>
          usage === undefined && providerError !== undefined
            ? settler.error(providerError.error)
            : settler.finish(usage),
        );
        controller.enqueue(annotateFinish(part, settlement));
        return;
      }
      const text = deltaText(part);
      if (text !== undefined) {
        settler.text(text);
        settler.check();
      }
      controller.enqueue(part);
    },
    async cancel(reason) {
      await reader.cancel(reason).catch(ignore);
      await settle(() => settler.abort());
    },
  });
}
