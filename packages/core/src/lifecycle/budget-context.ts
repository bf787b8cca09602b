import { AsyncLocalStorage } from 'node:async_hooks';
import type { Cycles } from '../cycles.ts';
import type { Action, Subject } from '../protocol/types.ts';

/** What a request (or any unit of work) runs under: who pays, how to stop, which Cycles instance. */
export interface BudgetContextOptions {
  /**
   * The Cycles instance calls in this context use.
   * @default the enclosing context's, else the process default (`getDefaultCycles()`)
   */
  cycles?: Cycles;
  /** Subject fields; merged over the enclosing context's (these win, dimensions are merged). */
  subject?: Subject;
  /** Aborts the work (e.g. client disconnect); combined with the enclosing context's signal. */
  signal?: AbortSignal;
  /** Default action of guarded calls in this context. */
  action?: Action;
  /** Free-form values for adapters and hooks (merged over the enclosing context's). */
  attributes?: Record<string, unknown>;
}

/** The `withRunBudget` run a context's calls belong to. */
export interface RunScope {
  /** Scope path of the run's own ledger. */
  readonly scope: string;
  /** True once the run's ledger was removed: calls that start later are refused, not left uncapped. */
  ended: boolean;
}

/** The effective (merged) budget context. */
export interface BudgetContext {
  cycles: Cycles | undefined;
  subject: Subject;
  signal: AbortSignal | undefined;
  action: Action | undefined;
  attributes: Record<string, unknown>;
  /** The run (`withRunBudget`) the context is part of, inherited by nested contexts. */
  run: RunScope | undefined;
}

const storage = new AsyncLocalStorage<BudgetContext>();

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
