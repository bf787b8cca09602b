import { AsyncLocalStorage } from 'node:async_hooks';
import type { BudgetContext, BudgetContextOptions, RunScope } from '../cycles-types.ts';
import type { Subject } from '../protocol/types.ts';

export type { BudgetContext, BudgetContextOptions, RunScope } from '../cycles-types.ts';

// Per process, and shared by every copy of core (ESM and CJS builds, duplicate installs) through a
// global symbol, as the ledger-scheme registry is: a context opened by an adapter that loaded core's
// CJS build (a CommonJS Nest app) is seen by a middleware that loaded its ESM build (through `import()`).
const STORAGE_KEY = Symbol.for('cycles-guard.budget-context');
const globalStorage = globalThis as { [STORAGE_KEY]?: AsyncLocalStorage<BudgetContext> };
globalStorage[STORAGE_KEY] ??= new AsyncLocalStorage();
const storage = globalStorage[STORAGE_KEY];

/** Merges subjects level by level: later ones win; `dimensions` are merged key by key. */
export function mergeSubjects(...subjects: (Subject | undefined)[]): Subject {
  // Indexed loops over Object.keys, not for-of over Object.entries: this runs on every guarded call.
  const merged: Record<string, unknown> = {};
  let dimensions: Record<string, string> | undefined;
  for (let level = 0; level < subjects.length; level++) {
    const subject = subjects[level] as Record<string, unknown> | undefined;
    if (subject === undefined) continue;
    const keys = Object.keys(subject);
    for (let index = 0; index < keys.length; index++) {
      const key = keys[index] as string;
      const value = subject[key];
      if (value === undefined) continue;
      if (key === 'dimensions') dimensions = { ...dimensions, ...(value as Record<string, string>) };
      else merged[key] = value;
    }
  }
  if (dimensions !== undefined) merged.dimensions = dimensions;
  return merged as Subject;
}

function combineSignals(
  outer: AbortSignal | undefined,
  inner: AbortSignal | undefined,
): AbortSignal | undefined {
  if (outer === undefined || outer === inner) return inner;
  if (inner === undefined) return outer;
  return AbortSignal.any([outer, inner]);
}

/**
 * Runs `fn` inside a budget context. Nested contexts merge with the enclosing one: subject levels and
 * attributes are overridden or extended, signals combined. Adapters open one per request.
 */
export function runWithBudget<T>(options: BudgetContextOptions, fn: () => T): T {
  return runInContext(options, undefined, fn);
}

/** {@link runWithBudget}, also opening a run (`withRunBudget`); nested contexts inherit the run. */
export function runInContext<T>(options: BudgetContextOptions, run: RunScope | undefined, fn: () => T): T {
  const outer = storage.getStore();
  const context: BudgetContext = {
    cycles: options.cycles ?? outer?.cycles,
    subject: mergeSubjects(outer?.subject, options.subject),
    signal: combineSignals(outer?.signal, options.signal),
    action: options.action ?? outer?.action,
    attributes: { ...outer?.attributes, ...options.attributes },
    run: run ?? outer?.run,
  };
  return storage.run(context, fn);
}

/** The budget context the caller runs in, or undefined outside any. */
export function currentBudget(): BudgetContext | undefined {
  return storage.getStore();
}
