import { randomUUID } from 'node:crypto';
import { type Cycles, currentCycles } from '../cycles.ts';
import type { LedgerAdmin } from '../ledger/types.ts';
import { InvalidConfigError, NotFoundError } from '../protocol/errors.ts';
import { scopePath } from '../protocol/scopes.ts';
import { currentBudget, mergeSubjects, type RunScope, runInContext } from './budget-context.ts';

/** Options of {@link withRunBudget}. */
export interface RunBudgetOptions {
  /**
   * The Cycles instance of the run.
   * @default the budget context's instance, else the process default
   */
  cycles?: Cycles;
  /**
   * Cap of this run in the instance's unit: creates the run's own ledger, so the run's steps can never
   * spend more (the enclosing tenant/app budgets still apply), and removes it when the run ends. Needs
   * an authority that can create ledgers (memory or Redis ledger); otherwise omit it and declare a
   * template such as `tenant:*\/workflow:*`.
   * @default no ledger is created (templates or existing ledgers decide)
   */
  limit?: number;
  /**
   * Workflow id of the run, the `workflow` level of its subject. A run with a generated id (or a
   * `limit`) has its ledger removed when it ends; a ledger under an id you chose, made by a template,
   * is kept, so that workflow can go on spending against it.
   * @default a random UUID
   */
  workflow?: string;
}

/** The run a callback of {@link withRunBudget} executes in. */
export interface RunBudget {
  workflow: string;
  /** Scope path of the run's ledger, e.g. `tenant:acme/workflow:3f…`. */
  scope: string;
  /**
   * Keeps the run going until `work` settles, for work that goes on after the callback returns, e.g.
   * `run.until(result.consumeStream())` before returning an AI SDK stream response: the run's ledger
   * is removed after that, so later steps are still capped by it.
   */
  until(work: PromiseLike<unknown>): void;
}

function isLedgerAdmin(authority: unknown): authority is LedgerAdmin {
  const admin = authority as Partial<LedgerAdmin>;
  return typeof admin.createLedger === 'function' && typeof admin.removeLedger === 'function';
}

/**
 * Runs an agent loop (an AI SDK tool loop, a LangChain agent's `invoke`, any guarded calls) under its
 * own budget: every guarded call inside `fn` is charged to `<enclosing subject>/workflow:<id>` as
 * well, so when the run's cap is spent the next step is refused with `BudgetExceededError` and the
 * loop stops. The run ends when `fn` settles, or later with {@link RunBudget.until}; a call of the run
 * that starts after its ledger was removed is refused with `InvalidRequestError` (never uncapped).
 */
export async function withRunBudget<T>(
  options: RunBudgetOptions,
  fn: (run: RunBudget) => Promise<T>,
): Promise<T> {
  const cycles = options.cycles ?? currentCycles();
  const workflow = options.workflow ?? randomUUID();
  const subject = mergeSubjects(cycles.config.subject, currentBudget()?.subject, { workflow });
  const scope = scopePath(subject);
  const unit = cycles.config.unit === 'TOKENS' ? 'TOKENS' : 'USD_MICROCENTS';
  const admin = isLedgerAdmin(cycles.authority) ? cycles.authority : undefined;
  if (options.limit !== undefined) {
    if (!Number.isSafeInteger(options.limit) || options.limit < 0) {
      throw new InvalidConfigError(`limit must be a non-negative integer, got ${String(options.limit)}`, {
        details: { field: 'limit' },
      });
    }
    if (admin === undefined) {
      throw new InvalidConfigError(
        "limit needs an authority that can create ledgers (a memory or Redis ledger); for this one omit 'limit' " +
          `and declare a template matching '${scope}' (e.g. 'tenant:*/workflow:*')`,
        { details: { field: 'limit' } },
      );
    }
    await admin.createLedger({ scope, unit, allocated: options.limit });
  }
  const runScope: RunScope = { scope, ended: false };
  const pending: PromiseLike<unknown>[] = [];
  const run: RunBudget = { workflow, scope, until: (work) => void pending.push(work) };
  try {
    return await runInContext({ cycles, subject: { workflow } }, runScope, () => fn(run));
  } finally {
    // A finished run's own ledger is garbage once nobody can name its scope again (a generated id) or
    // it was this run's cap (`limit`): removed, so a server does not keep one ledger per request.
    if (admin !== undefined && (options.limit !== undefined || options.workflow === undefined)) {
      if (pending.length === 0) await endRun(admin, runScope, unit);
      else void settled(pending).then(() => endRun(admin, runScope, unit));
    }
  }
}

/** Waits for every piece of work, including work added while waiting. */
async function settled(pending: PromiseLike<unknown>[]): Promise<void> {
  let done = 0;
  while (done < pending.length) {
    const batch = pending.slice(done);
    done = pending.length;
    await Promise.allSettled(batch);
  }
}

/**
 * Ends a run: its calls that start from now on are refused, and its ledger is removed. Best effort:
 * absent when no step reserved; refused while a call of the run still holds, and then kept, so the
 * run's later calls stay capped by it.
 */
async function endRun(admin: LedgerAdmin, run: RunScope, unit: 'TOKENS' | 'USD_MICROCENTS'): Promise<void> {
  run.ended = true;
  try {
    await admin.removeLedger(run.scope, unit);
  } catch (error) {
    if (!NotFoundError.isInstance(error)) run.ended = false;
  }
}
