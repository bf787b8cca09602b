import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import type { EmulatorSettings, Reply } from './context.ts';
import type { BedrockError } from './errors.ts';
import { EVENT_STREAM_CONTENT_TYPE, encodeException } from './event-stream.ts';
import type { Fault } from './faults.ts';
import type { RecordedRequest } from './recorder.ts';

/** The per-request pieces the writers need. */
export interface Exchange {
  request: IncomingMessage;
  response: ServerResponse;
  record: RecordedRequest;
  settings: EmulatorSettings;
  requestId: string;
  /** Set when the emulator itself drops the connection, so the close is not counted as a client abort. */
  droppedByEmulator: boolean;
}

const gone = (exchange: Exchange) => exchange.response.destroyed || exchange.response.writableEnded;

async function waitFirstByte(exchange: Exchange): Promise<void> {
  const ms = exchange.settings.latency.firstByteMs ?? 0;
  if (ms > 0) await delay(ms);
}

/** Send a Bedrock error: status, `x-amzn-ErrorType` header and `{"message"}` body. */
export async function sendError(exchange: Exchange, error: BedrockError): Promise<void> {
  exchange.record.status = error.status;
  exchange.record.errorType = error.type;
  await waitFirstByte(exchange);
  if (gone(exchange)) return;
  if (exchange.response.headersSent) {
    // Too late for an error response (a stream already started): cut the connection instead.
    exchange.response.destroy();
    return;
  }
  const body = JSON.stringify({ message: error.message });
  exchange.response.writeHead(error.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-amzn-requestid': exchange.requestId,
    'x-amzn-errortype': `${error.type}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
  });
  exchange.response.end(body);
}

/** Send a handler's reply, applying latency and any mid-stream fault. */
export async function sendReply(exchange: Exchange, reply: Reply, fault: Fault | undefined): Promise<void> {
  const { response, record, settings } = exchange;
  await waitFirstByte(exchange);
  if (gone(exchange)) return;
  if (reply.kind === 'json') {
    const body = JSON.stringify(reply.body);
    record.status = reply.status;
    response.writeHead(reply.status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'x-amzn-requestid': exchange.requestId,
      ...reply.headers,
    });
    response.end(body);
    return;
  }

  record.status = 200;
  record.outputTokens = 0;
  response.writeHead(200, {
    'content-type': EVENT_STREAM_CONTENT_TYPE,
    'x-amzn-requestid': exchange.requestId,
    ...reply.headers,
  });
  const midStream =
    fault?.kind === 'exceptionMidStream' || fault?.kind === 'dropMidStream' ? fault : undefined;
  const faultAt = Math.min(Math.max(0, midStream?.afterChunks ?? 1), reply.frames.length);
  // Resolves once the latest frame has been handed to the OS, so a planned drop happens after it.
  let flushed: Promise<void> = Promise.resolve();
  for (let index = 0; index <= reply.frames.length; index++) {
    if (midStream && index === faultAt) {
      if (midStream.kind === 'dropMidStream') await flushed;
      fireMidStream(exchange, midStream);
      return;
    }
    const frame = reply.frames[index];
    if (!frame) break;
    if (index > 0 && (settings.latency.perChunkMs ?? 0) > 0) await delay(settings.latency.perChunkMs);
    if (gone(exchange)) return;
    flushed = new Promise((resolve) => response.write(frame.bytes, () => resolve()));
    record.outputTokens = frame.outputTokens;
  }
  response.end();
}

function fireMidStream(exchange: Exchange, fault: Fault): void {
  if (fault.kind === 'dropMidStream') {
    exchange.droppedByEmulator = true;
    exchange.request.socket.destroy();
    return;
  }
  const exception = fault.exception ?? 'throttlingException';
  exchange.record.errorType = exception.charAt(0).toUpperCase() + exception.slice(1);
  exchange.response.end(
    encodeException(exception, fault.message ?? 'Too many requests, please wait before trying again.'),
  );
}
