import { CyclesError, InvalidRequestError } from '@cycles-guard/core';
import { toWireErrorResponse, wireErrorStatus } from '@cycles-guard/core/protocol';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { traceIdOf } from './trace.ts';

/**
 * A request the HTTP layer refuses before the protocol sees it (body too large, URI too long, wrong media
 * type, ...): the protocol's INVALID_REQUEST body under HTTP's own status (413, 414, 415, 405, ...), so
 * proxies and clients read the status they expect and protocol clients still get a typed error.
 */
export class HttpRefusal extends InvalidRequestError {
  constructor(
    readonly httpStatus: number,
    message: string,
    details: Record<string, unknown>,
  ) {
    super(message, { details });
  }
}

/** Fastify's own refusals as protocol errors. Their messages are never passed on: some echo the request. */
function fromFastify(error: Partial<FastifyError>, request: FastifyRequest): InvalidRequestError | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE': {
      const limit = request.routeOptions?.bodyLimit;
      return new HttpRefusal(
        413,
        `The request body is larger than this server accepts (${limit} bytes): send a smaller body`,
        {
          field: 'body',
          limit_bytes: limit,
        },
      );
    }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HttpRefusal(415, 'Send the body as JSON with Content-Type: application/json', {
        field: 'Content-Type',
      });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new InvalidRequestError('The request body is empty: send a JSON object', {
        details: { field: 'body' },
      });
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new InvalidRequestError(
        'The request body is not valid JSON (or uses __proto__ / constructor.prototype): send a JSON object',
        { details: { field: 'body' } },
      );
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new InvalidRequestError('Content-Length does not match the body', {
        details: { field: 'Content-Length' },
      });
    case 'FST_ERR_BAD_URL':
      return new InvalidRequestError('The request path is not valid percent-encoding', {
        details: { field: 'path' },
      });
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new HttpRefusal(414, 'A path segment is longer than this server accepts: send a shorter id', {
        field: 'path',
      });
  }
  const status = error.statusCode ?? 500;
  if (status < 400 || status >= 500) return undefined;
  return new HttpRefusal(status, 'The HTTP layer refused this request', {
    field: 'request',
    code: error.code,
  });
}

/** Longest error message sent: validators quote the bad value (`got …`), which may be 64 KB of request. */
const MAX_MESSAGE_CHARS = 400;

/** The error with its message cut to `MAX_MESSAGE_CHARS` (same class, code and details). */
function withShortMessage(error: unknown): unknown {
  if (!(error instanceof Error) || error.message.length <= MAX_MESSAGE_CHARS) return error;
  const message = `${error.message.slice(0, MAX_MESSAGE_CHARS)}…`;
  return Object.create(error, { message: { value: message } });
}

function statusOf(error: unknown): number {
  return error instanceof HttpRefusal ? error.httpStatus : wireErrorStatus(error);
}

/**
 * Sends any thrown value as the protocol's ErrorResponse with the matching status. Correlation headers are
 * set here too, for refusals that reach it before the `onRequest` hook ran (bad URL, overlong id).
 */
export function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const protocolError = withShortMessage(
    CyclesError.isInstance(error) ? error : (fromFastify(error as Partial<FastifyError>, request) ?? error),
  );
  const status = statusOf(protocolError);
  if (status >= 500) request.log.error({ err: error }, 'request failed');
  if (!request.traceId) {
    request.traceId = traceIdOf(request.headers);
    reply.header('X-Request-Id', request.id);
    reply.header('X-Cycles-Trace-Id', request.traceId);
  }
  if (status === 429) {
    // The spec's throttling headers: seconds to wait, and when (epoch seconds) the limit resets.
    const waitMs = (CyclesError.isInstance(protocolError) ? protocolError.retryAfterMs : undefined) ?? 1000;
    reply.header('retry-after', String(Math.max(1, Math.ceil(waitMs / 1000))));
    reply.header('x-ratelimit-reset', String(Math.ceil((Date.now() + waitMs) / 1000)));
  }
  return reply.code(status).send(toWireErrorResponse(protocolError, request.id, request.traceId));
}
