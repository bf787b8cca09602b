import { CyclesError } from '@cycles-guard/core';

// The marker `@langchain/core/errors` `stampRetryable` sets (read by AsyncCaller and by langchain's
// modelRetryMiddleware); written directly so older @langchain/core versions without it still load.
const RETRYABLE = Symbol.for('langchain.errors.retryable');

/** Marks a budget decision (a 4xx CyclesError: denial, unpriced model, bad request) as not worth retrying. */
export function markNotRetryable(error: unknown): void {
  if (CyclesError.isInstance(error) && error.status < 500 && !Object.hasOwn(error, RETRYABLE)) {
    Object.defineProperty(error, RETRYABLE, { value: false, enumerable: false, configurable: true });
  }
}
