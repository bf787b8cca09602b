import type { LanguageModelV3StreamPart } from '@ai-sdk/provider';
import type { LlmCall, Settlement } from '@cycles-guard/core';
import { tokenUsage } from './usage.ts';

/**
 * Conservative output estimate of streamed deltas: ceil(utf8 bytes / 3), capped at the grant (the
 * model cannot write more). It is what an aborted or failed stream commits when no usage arrived.
 */
const BYTES_PER_TOKEN = 3;
const encoder = new TextEncoder();

function deltaTokens(part: LanguageModelV3StreamPart): number {
  const text =
    part.type === 'text-delta' || part.type === 'reasoning-delta' || part.type === 'tool-input-delta'
      ? part.delta
      : '';
  return text.length === 0 ? 0 : Math.ceil(encoder.encode(text).length / BYTES_PER_TOKEN);
}

const ignore = () => {};

type FinishPart = Extract<LanguageModelV3StreamPart, { type: 'finish' }>;

/**
 * Passes the provider's stream through and settles the call exactly once: the `finish` part's usage
 * (before `finish` is passed on, so the ledger is settled when the caller sees the end); an error, an
 * abort or a `finish` without usage commit what was seen, else the whole hold (never $0); a reader
 * that cancels (consumer abort) stops the provider stream and settles the same way. `annotateFinish`
 * may add what was charged to the `finish` part.
 */
export function guardStream(
  source: ReadableStream<LanguageModelV3StreamPart>,
  call: LlmCall,
  annotateFinish: (part: FinishPart, settlement: Settlement | undefined) => FinishPart,
): ReadableStream<LanguageModelV3StreamPart> {
  const tracker = call.track();
  const reader = source.getReader();
  let estimated = 0;
  let streamError: unknown;
  let settlement: Settlement | undefined;
  const settle = async (settling: () => Promise<Settlement>) => {
    if (tracker.settled) return;
    settlement = await settling().catch(() => undefined);
  };
  return new ReadableStream<LanguageModelV3StreamPart>({
    async pull(controller) {
      let next: Awaited<ReturnType<typeof reader.read>>;
      try {
        next = await reader.read();
      } catch (error) {
        await settle(() => tracker.error(error));
        controller.error(error);
        return;
      }
      if (next.done) {
        await settle(() => tracker.finish());
        controller.close();
        return;
      }
      const part = next.value;
      if (part.type === 'error') streamError = part.error;
      if (part.type === 'finish') {
        const usage = tokenUsage(part.usage);
        // After a provider error the finish part carries no usage: settle it as the failure it was.
        await settle(() => (usage === undefined ? tracker.error(streamError) : tracker.finish(usage)));
        controller.enqueue(annotateFinish(part, settlement));
        return;
      }
      const added = deltaTokens(part);
      if (added > 0) {
        estimated += added;
        // Recorded for an abort or error before `finish`. A budget cutoff needs no branch here: core
        // aborts the call's signal, which this request carries, and the read above then fails.
        tracker.usage({ outputTokens: Math.min(estimated, call.maxOutputTokens) });
      }
      controller.enqueue(part);
    },
    async cancel(reason) {
      await reader.cancel(reason).catch(ignore);
      await settle(() => tracker.abort());
    },
  });
}
