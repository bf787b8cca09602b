import type { GuardedRun } from './guarded-run.ts';

// Every handler's runs whose call options carry a run link, by LangChain run id. One model call can
// be guarded by several handlers (the model's own, and one passed with the call or by a parent
// chain): each holds for the same run id, and a capped client must honour them all, whichever
// handler capped it.
const runs = new Map<string, GuardedRun[]>();

/** Records a run whose request a capped client will see. */
export function addLinkedRun(run: GuardedRun): void {
  const others = runs.get(run.runId);
  if (others === undefined) runs.set(run.runId, [run]);
  else others.push(run);
}

/** Forgets a run (settled, or vetoed and ended). */
export function removeLinkedRun(run: GuardedRun): void {
  const all = runs.get(run.runId);
  if (all === undefined) return;
  const index = all.indexOf(run);
  if (index >= 0) all.splice(index, 1);
  if (all.length === 0) runs.delete(run.runId);
}

/** Every handler's run for a LangChain run id. */
export function linkedRuns(runId: string): readonly GuardedRun[] | undefined {
  return runs.get(runId);
}
