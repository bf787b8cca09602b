import type { Request, RequestHandler } from 'express';

const tenants = new WeakMap<Request, string>();

/** The tenant `authenticate` found for this request. */
export function tenantOf(request: Request): string | undefined {
  return tenants.get(request);
}

/**
 * Maps the `x-api-key` header to a tenant; an unknown or missing key is answered 401 before any budget
 * is touched. (A real app would look keys up in its database, possibly asynchronously.)
 */
export function authenticate(apiKeys: ReadonlyMap<string, string>): RequestHandler {
  return (request, response, next) => {
    const tenant = apiKeys.get(request.get('x-api-key') ?? '');
    if (tenant === undefined) {
      response
        .status(401)
        .json({ error: 'UNAUTHORIZED', message: 'Send a known API key in the x-api-key header.' });
      return;
    }
    tenants.set(request, tenant);
    next();
  };
}
