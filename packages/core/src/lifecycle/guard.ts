import type { Cycles } from '../cycles.ts';
import { currentBudget, runWithBudget } from './budget-context.ts';
import { type Hold, type ReserveOptions, reserveHold } from './hold.ts';
import type { Runtime } from './runtime.ts';

/** Options of `cycles.guard`: what to reserve, plus how to price the result. */
export interface GuardOptions<T> extends ReserveOptions {
  /**
   * The real cost, computed from the result.
   * @default what was held (the estimate, or less for a partial hold)
   */
  actual?: (result: T, hold: Hold) => number;
  /**
   * Refuses to start when already aborted.
   * @default the budget context's signal
   */
  signal?: AbortSignal;
}

/**
 * Reserves, runs `fn` inside a budget context for the hold's subject and action, then settles: commits
 * `actual(result)` (or what was held) on success, releases on throw. If `fn` settled the hold itself,
 * that settlement stands. A failed settlement is reported as a `settle-error` event and does not
 * replace the result (the work is done; the hold will expire).
 */
export async function guard<T>(
  runtime: Runtime,
  cycles: Cycles,
  options: GuardOptions<T>,
  fn: (hold: Hold) => Promise<T> | T,
): Promise<T> {
  (options.signal ?? currentBudget()?.signal)?.throwIfAborted();
  const hold = await reserveHold(runtime, options);
  let result: T;
  try {
    result = await runWithBudget({ cycles, subject: hold.subject, action: hold.action }, () => fn(hold));
  } catch (error) {
    if (!hold.settled) await hold.release('error').catch(() => {});
    throw error;
  }
  if (!hold.settled) {
    const actual = options.actual?.(result, hold) ?? (hold.guarded ? hold.reserved : hold.estimate);
    await hold.commit(actual).catch(() => {});
  }
  return result;
}
