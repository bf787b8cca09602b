import {
  type BudgetContextOptions,
  budgetErrorResponse,
  type Cycles,
  currentCycles,
  remainingBudgetHeaders,
  runWithBudget,
  type Subject,
} from '@cycles-guard/core';
import { mergeSubjects, readSubjectBalances } from '@cycles-guard/core/llm';
import { validateSubject } from '@cycles-guard/core/protocol';
import type { Request, RequestHandler, Response } from 'express';

/** Options of `cyclesMiddleware`. */
export interface CyclesMiddlewareOptions {
  /**
   * Who pays for this request, e.g. the tenant behind an API key or header. A result without a valid
   * standard level (or with characters outside `[a-zA-Z0-9_.-]`) is answered 400 and nothing is reserved.
   */
  subject: (request: Request) => Subject | Promise<Subject>;
  /**
   * The Cycles instance calls in this request use.
   * @default the process default (`currentCycles()`), looked up per request
   */
  cycles?: Cycles;
  /**
   * Set `X-Cycles-Budget-Remaining`, `-Scope` and `-Unit` from the balances read at request start.
   * @default true
   */
  budgetHeaders?: boolean;
  /** Extra budget-context attributes for hooks and adapters further down. */
  attributes?: (request: Request) => Record<string, unknown>;
  /**
   * Requests that need no budget (health checks, static files): no subject is resolved and no budget
   * context is opened for them. An error thrown by `skip` goes to `next(error)`.
   * @default none skipped
   */
  skip?: (request: Request) => boolean;
}

/**
 * Sets the remaining-budget headers of the tightest scope the request is charged to: its subject merged
 * over the instance's (`cycles.config.subject`), as every guarded call merges it. A failed read only
 * skips them.
 */
async function setBudgetHeaders(cycles: Cycles, subject: Subject, response: Response): Promise<void> {
  try {
    const balances = await readSubjectBalances(
      cycles.authority,
      mergeSubjects(cycles.config.subject, subject),
    );
    if (!response.headersSent) response.set(remainingBudgetHeaders(balances));
  } catch {
    // Informational headers: an unreachable authority must not fail the request here.
  }
}

/**
 * Opens a budget context per request: the subject from `options.subject`, the Cycles instance, and an
 * AbortSignal that fires when the client disconnects before the response finished. Every guarded call
 * made by later handlers (Bedrock plugin, `cycles.reserve`) runs in it.
 */
export function cyclesMiddleware(options: CyclesMiddlewareOptions): RequestHandler {
  const { budgetHeaders = true } = options;
  return async (request, response, next) => {
    let subject: Subject;
    try {
      if (options.skip?.(request) === true) return next();
      subject = await options.subject(request);
      validateSubject(subject);
    } catch (error) {
      const mapped = budgetErrorResponse(error);
      if (mapped === undefined || mapped.status !== 400) return next(error);
      response.status(400).set(mapped.headers).json(mapped.body);
      return;
    }
    let context: BudgetContextOptions;
    try {
      // Inside the try: Express 4 does not catch a rejected handler promise, so every error goes to `next`.
      const cycles = options.cycles ?? currentCycles();
      const attributes = { request, response, ...options.attributes?.(request) };
      const controller = new AbortController();
      response.on('close', () => {
        // 'close' without a finished write is a client disconnect (a normal end emits 'finish' first).
        if (!response.writableFinished) controller.abort(new Error('Client disconnected'));
      });
      if (budgetHeaders) await setBudgetHeaders(cycles, subject, response);
      context = { cycles, subject, signal: controller.signal, attributes };
    } catch (error) {
      return next(error);
    }
    runWithBudget(context, () => next());
  };
}
