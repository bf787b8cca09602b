import { budgetErrorResponse } from '@cycles-guard/core';
import type { ErrorRequestHandler } from 'express';
import { routeHolds } from './route-holds.ts';

/** Options of `cyclesErrorHandler`. */
export interface CyclesErrorHandlerOptions {
  /**
   * Status of budget denials: `429 Too Many Requests` or `402 Payment Required`.
   * @default 429
   */
  deniedStatus?: 429 | 402;
}

/**
 * Error middleware (register after the routes): answers cycles-guard errors natively (denials →
 * 429/402 with `Retry-After` when the window reset is known, AuthorityUnavailableError → 503, other
 * CyclesErrors → their status) and releases the request's per-route hold. Other errors go to `next`.
 */
export function cyclesErrorHandler(options: CyclesErrorHandlerOptions = {}): ErrorRequestHandler {
  return (error, _request, response, next) => {
    const hold = routeHolds.get(response);
    if (hold !== undefined && !hold.settled) hold.release('error').catch(() => {});
    const mapped = budgetErrorResponse(error, options);
    if (mapped === undefined || response.headersSent) return next(error);
    response.status(mapped.status).set(mapped.headers).json(mapped.body);
  };
}
