import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { newTraceId } from './trace.ts';

/** Node's parser errors (before any request exists) as the status and message to answer with. */
function refusalOf(error: NodeJS.ErrnoException & { rawPacket?: Buffer }): [number, string] {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return [408, 'The request did not arrive in time: send it again'];
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    // The limit covers the request line and the headers together; a request line that is not even
    // finished within the packet means the URI is what is too long.
    const packet = error.rawPacket;
    const lineEnd = packet?.indexOf('\r\n') ?? -1;
    if (packet !== undefined && (lineEnd === -1 || lineEnd > 8192)) {
      return [414, 'The request URI is longer than this server accepts: send a shorter one'];
    }
    return [431, 'The request headers are larger than this server accepts: send fewer or smaller headers'];
  }
  return [400, 'The request is not valid HTTP/1.1'];
}

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP parser refuses (headers or URI too large, malformed
 * HTTP, timeouts) is answered in the protocol's ErrorResponse shape with fresh correlation ids, then the
 * connection is closed (its framing can no longer be trusted).
 */
export function answerClientError(error: Error, socket: Socket): void {
  const problem = error as NodeJS.ErrnoException;
  if (problem.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) {
    const [status, message] = refusalOf(problem);
    const requestId = randomUUID();
    const traceId = newTraceId();
    const body = JSON.stringify({
      error: 'INVALID_REQUEST',
      message,
      request_id: requestId,
      trace_id: traceId,
      details: { field: status === 414 ? 'path' : status === 431 ? 'headers' : 'request' },
    });
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\n` +
        `X-Cycles-Trace-Id: ${traceId}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
