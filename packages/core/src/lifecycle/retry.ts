import { ErrorCode } from '../protocol/enums.ts';
import { CyclesError } from '../protocol/errors.ts';

/** Settlement retry policy (commit, release, events). */
export interface RetryOptions {
  /**
   * Total attempts, the first included.
   * @default 4
   */
  attempts?: number;
  /**
   * Delay before the first retry; doubles each time.
   * @default 100
   */
  baseDelayMs?: number;
}

const TRANSIENT: ReadonlySet<string> = new Set([
  ErrorCode.AUTHORITY_UNAVAILABLE,
  ErrorCode.INTERNAL_ERROR,
  ErrorCode.LIMIT_EXCEEDED,
]);

/** True for errors worth retrying with the same idempotency key: unreachable, 500, 429. */
export function isTransient(error: unknown): boolean {
  return CyclesError.isInstance(error) && TRANSIENT.has(error.code);
}

/** Longest single wait, whatever the backoff or a server's retry-after says. */
const MAX_DELAY_MS = 30_000;

/**
 * Runs `operation` up to `attempts` times with exponential backoff while it fails transiently. The
 * operation must reuse one idempotency key across attempts, so a retry after a lost response replays.
 */
export function withRetry<T>(
  operation: () => Promise<T>,
  policy: Required<RetryOptions>,
  retryable: (error: unknown) => boolean = isTransient,
): Promise<T> {
  // The first attempt runs without an async frame of its own: it is on every call's hot path.
  let first: Promise<T>;
  try {
    first = operation();
  } catch (error) {
    first = Promise.reject(error);
  }
  return first.catch((error: unknown) => retryAfter(error, operation, policy, retryable));
}

/**
 * The retries of {@link withRetry} after its first attempt failed with `firstError`: for hot paths
 * that await the first attempt themselves (no extra promise when it succeeds) and call this from
 * their `catch`. Rethrows `firstError` when it is not worth retrying.
 */
export async function retryAfter<T>(
  firstError: unknown,
  operation: () => Promise<T>,
  policy: Required<RetryOptions>,
  retryable: (error: unknown) => boolean,
): Promise<T> {
  let error = firstError;
  for (let attempt = 1; ; attempt++) {
    if (attempt >= policy.attempts || !retryable(error)) throw error;
    const backoff = policy.baseDelayMs * 2 ** (attempt - 1);
    const hinted = CyclesError.isInstance(error) ? (error.retryAfterMs ?? 0) : 0;
    await new Promise((resolve) => setTimeout(resolve, Math.min(MAX_DELAY_MS, Math.max(backoff, hinted))));
    try {
      return await operation();
    } catch (next) {
      error = next;
    }
  }
}
