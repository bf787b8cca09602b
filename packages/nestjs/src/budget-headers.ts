import { type Cycles, remainingBudgetHeaders, type Subject } from '@cycles-guard/core';
import { mergeSubjects, readSubjectBalances } from '@cycles-guard/core/llm';

/** The Node response Nest writes to on both platforms (Express `response`, Fastify `reply.raw`). */
export interface HeaderTarget {
  readonly headersSent: boolean;
  setHeader(name: string, value: string): unknown;
}

/**
 * Sets `X-Cycles-Budget-Remaining`, `-Scope` and `-Unit` of the subject's tightest scope. Set on the raw
 * response, so they survive Fastify replies and SSE (Node merges them into `writeHead`). A failed read
 * only skips them: they are informational and must not fail the request.
 */
export async function setBudgetHeaders(
  cycles: Cycles,
  subject: Subject | undefined,
  response: HeaderTarget,
): Promise<void> {
  try {
    const balances = await readSubjectBalances(
      cycles.authority,
      mergeSubjects(cycles.config.subject, subject),
    );
    if (response.headersSent) return;
    for (const [name, value] of Object.entries(remainingBudgetHeaders(balances))) {
      response.setHeader(name, value);
    }
  } catch {
    // See above: an unreachable authority is reported by the guarded calls themselves.
  }
}
