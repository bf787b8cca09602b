import { CyclesError } from '@cycles-guard/core';

/**
 * The cycles-guard error behind `error`, following `cause` links: agent middleware wraps errors
 * (`MiddlewareError` with the original as `cause`), so `BudgetExceededError.isInstance` on the caught
 * error alone can miss a denial. Undefined when none is found.
 */
export function findCyclesError(error: unknown): CyclesError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    if (CyclesError.isInstance(current)) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
