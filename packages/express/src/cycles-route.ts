import { currentCycles, type Hold } from '@cycles-guard/core';
import type { Request, RequestHandler, Response } from 'express';
import { routeHolds } from './route-holds.ts';

/** Options of `cyclesRoute`: a hold for metered non-LLM work done by one route. */
export interface CyclesRouteOptions {
  /** Worst-case cost of the route, in the instance's unit (or computed from the request). */
  estimate: number | ((request: Request) => number);
  /**
   * Action kind recorded with the reservation.
   * @default 'http.route'
   */
  actionKind?: string;
  /**
   * Action name recorded with the reservation.
   * @default `<METHOD> <route path>`
   */
  actionName?: string;
  /**
   * The real cost, read once the response finished.
   * @default what was held
   */
  actual?: (request: Request, response: Response) => number;
}

/** The cost to commit: `actual`'s answer, else (also when it throws: the work was done) what was held. */
function actualCost(
  hold: Hold,
  request: Request,
  response: Response,
  actual: CyclesRouteOptions['actual'],
): number {
  const held = hold.guarded ? hold.reserved : hold.estimate;
  try {
    return actual?.(request, response) ?? held;
  } catch {
    // Runs in a 'close' listener, where a throw would crash the process.
    return held;
  }
}

function settle(
  hold: Hold,
  request: Request,
  response: Response,
  actual: CyclesRouteOptions['actual'],
): void {
  if (hold.settled) return;
  const succeeded = response.writableFinished && response.statusCode < 500;
  const settlement = succeeded
    ? hold.commit(actualCost(hold, request, response, actual))
    : hold.release(response.writableFinished ? `status ${response.statusCode}` : 'client aborted');
  // Failures are reported by core as `settle-error` events; the response is already gone.
  settlement.catch(() => {});
}

/**
 * Reserves `estimate` for the request's subject (run it after `cyclesMiddleware`), commits when the
 * response finishes, releases on status ≥ 500, a handler error (with `cyclesErrorHandler`) or client
 * abort. A denial is passed to `next(error)`, so `cyclesErrorHandler` answers 429/402.
 */
export function cyclesRoute(options: CyclesRouteOptions): RequestHandler {
  return async (request, response, next) => {
    let hold: Hold;
    try {
      // Inside the try: Express 4 does not catch a rejected handler promise, so every error goes to `next`.
      const estimate = typeof options.estimate === 'function' ? options.estimate(request) : options.estimate;
      const name = options.actionName ?? `${request.method} ${request.route?.path ?? request.path}`;
      hold = await currentCycles().reserve({
        estimate,
        action: { kind: options.actionKind ?? 'http.route', name: String(name) },
      });
    } catch (error) {
      return next(error);
    }
    routeHolds.set(response, hold);
    response.on('close', () => settle(hold, request, response, options.actual));
    next();
  };
}
