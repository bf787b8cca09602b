import { CyclesError } from '@cycles-guard/core';
import { isUnbilledFailure, type LlmCall } from '@cycles-guard/core/llm';

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** An abort of the request (the caller's signal, a timeout), as fetch and the AI SDK raise it. */
export function isAbortError(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === 'AbortError' || name === 'TimeoutError';
}

/**
 * Settles a call whose doGenerate/doStream threw: released when core's `isUnbilledFailure` says the
 * provider's answer or the missing connection billed nothing, or when an inner guard refused it before
 * sending (a CyclesError: a stacked guard's denial); anything else, an abort included, commits the
 * whole hold (never $0).
 */
export async function settleThrown(
  call: LlmCall,
  error: unknown,
  signal: AbortSignal | undefined,
): Promise<void> {
  const unbilled =
    signal?.aborted !== true &&
    !isAbortError(error) &&
    (CyclesError.isInstance(error) || isUnbilledFailure(statusOf(error), error));
  await call.fail(error, { reachedProvider: !unbilled }).catch(() => {});
}
