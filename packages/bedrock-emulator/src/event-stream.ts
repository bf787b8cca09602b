import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';

const codec = new EventStreamCodec(toUtf8, fromUtf8);

/** Content type of every streaming response body. */
export const EVENT_STREAM_CONTENT_TYPE = 'application/vnd.amazon.eventstream';

const header = (value: string) => ({ type: 'string' as const, value });

/** Encode one `:message-type event` frame whose payload is `payload` as JSON. */
export function encodeEvent(eventType: string, payload: unknown): Uint8Array {
  return codec.encode({
    headers: {
      ':event-type': header(eventType),
      ':content-type': header('application/json'),
      ':message-type': header('event'),
    },
    body: fromUtf8(JSON.stringify(payload)),
  });
}

/** Encode an InvokeModelWithResponseStream `chunk` frame: `{"bytes":"<base64 of the model JSON>"}`. */
export function encodeChunk(modelJson: unknown): Uint8Array {
  return encodeEvent('chunk', { bytes: Buffer.from(JSON.stringify(modelJson), 'utf8').toString('base64') });
}

/** Encode a modeled exception frame, e.g. `throttlingException` (camelCase stream member name). */
export function encodeException(exceptionType: string, message: string): Uint8Array {
  return codec.encode({
    headers: {
      ':exception-type': header(exceptionType),
      ':content-type': header('application/json'),
      ':message-type': header('exception'),
    },
    body: fromUtf8(JSON.stringify({ message })),
  });
}

/** Decode one frame (used by tests and debugging tools). */
export function decodeFrame(bytes: Uint8Array): { headers: Record<string, string>; payload: string } {
  const message = codec.decode(bytes);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers)) headers[name] = String(value.value);
  return { headers, payload: toUtf8(message.body) };
}
