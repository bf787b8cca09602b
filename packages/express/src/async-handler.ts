import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * Wraps an `async` route handler so its rejection reaches `next(error)`, and so `cyclesErrorHandler`,
 * on Express 4 too: Express 4 ignores the promise an async handler returns, so a budget denial thrown
 * by an awaited Bedrock call becomes an unhandled rejection (no response; Node exits). Express 5 does
 * this itself; the wrapper is harmless there.
 */
export function asyncHandler(
  handler: (request: Request, response: Response, next: NextFunction) => Promise<unknown>,
): RequestHandler {
  return (request, response, next) => {
    handler(request, response, next).catch(next);
  };
}
