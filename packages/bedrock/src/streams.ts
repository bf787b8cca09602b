import type { LlmCallOutcome, Settlement } from '@cycles-guard/core';
import { chargedBy, type StreamSettler } from '@cycles-guard/core/llm';

/** Records what a settlement charged on the call's outcome (`getCyclesResult(output).charged`). */
export async function recordCharge(outcome: LlmCallOutcome, settling: Promise<Settlement>): Promise<void> {
  outcome.charged = chargedBy(await settling);
}

/**
 * Wraps a response stream: feeds each event to core's `StreamSettler` (which decides what is charged:
 * final usage, what was seen, or the hold), stops reading (and closes the connection) at a budget
 * cutoff or when the consumer leaves, and settles exactly once however the stream ends: a normal end,
 * our stop (budget-context abort, client disconnect, consumer break, cutoff), or a failure of its own
 * (exception frame, dropped connection).
 */
export function guardStream<T>(
  source: AsyncIterable<T>,
  settler: StreamSettler,
  feed: (settler: StreamSettler, event: T) => void,
  close: () => void,
  outcome: LlmCallOutcome,
): AsyncIterable<T> {
  return {
    async *[Symbol.asyncIterator]() {
      let ended = false;
      let failure: { error: unknown } | undefined;
      try {
        for await (const event of source) {
          feed(settler, event);
          yield event;
          if (settler.check() === 'stop') break;
        }
        ended = true;
      } catch (error) {
        failure = { error };
        throw error;
      } finally {
        // Leaving early (consumer break, cutoff) must stop Bedrock generating: close the connection.
        if (!ended) close();
        // A failure while the call was aborted is our stop (the abort closed the body), not Bedrock's.
        const settling = ended
          ? settler.finish()
          : failure !== undefined && !settler.call.aborted
            ? settler.error(failure.error)
            : settler.abort();
        await recordCharge(outcome, settling).catch(() => {});
      }
    },
  };
}
