import type { GuardedRun } from './guarded-run.ts';

// Every handler's runs whose call options carry a run link, by LangChain run id.
//
// Process-wide on purpose (the one module-level state of this package): a request carries only the
// run id (a string in Converse `requestMetadata`), and one model call can be guarded by several
// handlers (the model's own, plus one passed with the call or by a parent chain) while only one of
// them capped the client. The capped client must find every handler's hold for that run, whichever
// handler capped it, so the lookup cannot live in one handler.
//
// Why it is safe: run ids are LangChain's per-run UUIDs, so handlers never collide; an entry is added
// when a handler reserves for a run and removed by that same handler when the run settles or is
// vetoed, so the map holds only runs in flight (its size is bounded by the open runs of all handlers);
// each handler removes only its own run objects.
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

/** Run ids with a linked run in flight, across handlers (0 once every run settled). */
export function linkedRunCount(): number {
  return runs.size;
}
