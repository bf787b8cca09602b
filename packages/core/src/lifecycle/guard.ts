import type { Cycles } from '../cycles-types.ts';
import { currentBudget, runWithBudget } from './budget-context.ts';
import { reserveHold } from './hold.ts';
import type { GuardOptions, Hold } from './hold-types.ts';

export type { GuardOptions } from './hold-types.ts';

import type { Runtime } from './runtime.ts';

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
