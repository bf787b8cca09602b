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

function settle(
  hold: Hold,
  request: Request,
  response: Response,
  actual: CyclesRouteOptions['actual'],
): void {
  if (hold.settled) return;
  const succeeded = response.writableFinished && response.statusCode < 500;
  const settlement = succeeded
    ? hold.commit(actual?.(request, response) ?? (hold.guarded ? hold.reserved : hold.estimate))
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
    const estimate = typeof options.estimate === 'function' ? options.estimate(request) : options.estimate;
    const name = options.actionName ?? `${request.method} ${request.route?.path ?? request.path}`;
    let hold: Hold;
    try {
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
