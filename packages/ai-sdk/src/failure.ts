import { CyclesError, isUnbilledFailure, type LlmCall } from '@cycles-guard/core';

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
 * Settles a call whose doGenerate/doStream threw. A refused request (4xx such as 429 throttling or
 * 400 validation, or 503), one that never connected (connection refused), and one an inner guard
 * refused before sending (a CyclesError: a stacked guard's denial) were not billed: release. Anything
 * else (a 5xx, a reset after the request was written, an abort) may have been: commit the whole hold
 * (never $0).
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
