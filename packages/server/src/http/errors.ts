import { CyclesError, InvalidRequestError, toWireErrorResponse, wireErrorStatus } from '@cycles-guard/core';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/** Fastify's own 4xx errors (bad JSON, body too large, wrong media type) as the protocol's 400. */
function asProtocolError(error: unknown): unknown {
  if (CyclesError.isInstance(error)) return error;
  const fastifyError = error as Partial<FastifyError>;
  const status = fastifyError.statusCode ?? 500;
  if (status < 400 || status >= 500) return error;
  const reasons: Record<string, string> = {
    FST_ERR_CTP_BODY_TOO_LARGE: 'The request body is larger than the server accepts: send a smaller body',
    FST_ERR_CTP_INVALID_MEDIA_TYPE: 'Send the body as JSON with Content-Type: application/json',
    FST_ERR_CTP_EMPTY_JSON_BODY: 'The request body is empty: send a JSON object',
    FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'Content-Length does not match the body',
  };
  const message =
    reasons[fastifyError.code ?? ''] ??
    (error instanceof SyntaxError || fastifyError.code === 'FST_ERR_CTP_INVALID_JSON_BODY'
      ? `The request body is not valid JSON: ${fastifyError.message ?? ''}`.trim()
      : (fastifyError.message ?? 'Bad request'));
  return new InvalidRequestError(message, { details: { field: 'body' } });
}

/** Sends any thrown value as the protocol's ErrorResponse with the matching status. */
export function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const protocolError = asProtocolError(error);
  const status = wireErrorStatus(protocolError);
  if (status >= 500) request.log.error({ err: error }, 'request failed');
  if (status === 429) {
    // The spec's throttling headers: seconds to wait, and when (epoch seconds) the limit resets.
    const waitMs = (CyclesError.isInstance(protocolError) ? protocolError.retryAfterMs : undefined) ?? 1000;
    reply.header('retry-after', String(Math.max(1, Math.ceil(waitMs / 1000))));
    reply.header('x-ratelimit-reset', String(Math.ceil((Date.now() + waitMs) / 1000)));
  }
  return reply.code(status).send(toWireErrorResponse(protocolError, request.id, request.traceId));
}
