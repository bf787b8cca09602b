import type { LlmCall } from '@cycles-guard/core';

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

function isAbortError(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === 'AbortError' || name === 'TimeoutError';
}

/**
 * Settles a call whose doGenerate/doStream threw. A refused request (4xx such as 429 throttling or
 * 400 validation, or 503) and one that got no answer at all (connection refused) were not billed:
 * release. An answered request (2xx that failed to parse, 5xx) or an aborted one may have been:
 * commit the whole hold (never $0).
 */
export async function settleThrown(
  call: LlmCall,
  error: unknown,
  signal: AbortSignal | undefined,
): Promise<void> {
  const status = statusOf(error);
  const refused = status !== undefined && ((status >= 400 && status < 500) || status === 503);
  const neverAnswered = status === undefined && signal?.aborted !== true && !isAbortError(error);
  await call.fail(error, { reachedProvider: !(refused || neverAnswered) }).catch(() => {});
}
