import 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** W3C trace id of the request (from `traceparent` / `X-Cycles-Trace-Id`, or new). */
    traceId: string;
    /** The tenant of the request's API key; undefined for admin-key requests. */
    tenant: string | undefined;
  }
}
