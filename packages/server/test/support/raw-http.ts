import { connect } from 'node:net';
import { expect } from 'vitest';
import { schemaProblems } from './contract.ts';

/** An answer read off the socket: status, lowercased headers, and the body text. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

/**
 * Sends `head` (request line and headers, without the blank line) and `body` as raw bytes on a new
 * connection and reads the answer until the server closes it, so requests that fetch would refuse to
 * build (malformed HTTP, oversized headers) reach the server as sent.
 */
export async function rawRequest(url: string, head: string, body: Buffer | string = ''): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  const payload = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const bytes = await new Promise<Buffer>((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.on('error', (error) => (chunks.length > 0 ? resolve(Buffer.concat(chunks)) : reject(error)));
    socket.write(`${head}\r\nContent-Length: ${payload.length}\r\nConnection: close\r\n\r\n`);
    // Not `end()`: Node's server drops a half-closed connection whose answer is still pending.
    socket.write(payload);
  });
  const text = bytes.toString('utf8');
  const split = text.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = text.slice(0, split).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let bodyText = text.slice(split + 4);
  if (headers['transfer-encoding'] === 'chunked') bodyText = unchunk(bodyText);
  return { status: Number(statusLine.split(' ')[1]), headers, text: bodyText };
}

function unchunk(text: string): string {
  let out = '';
  let rest = text;
  for (;;) {
    const lineEnd = rest.indexOf('\r\n');
    const size = Number.parseInt(rest.slice(0, lineEnd), 16);
    if (!(size > 0)) return out;
    out += rest.slice(lineEnd + 2, lineEnd + 2 + size);
    rest = rest.slice(lineEnd + 2 + size + 2);
  }
}

/**
 * Asserts an error answer is the protocol's: a valid ErrorResponse whose ids match `X-Request-Id` and
 * `X-Cycles-Trace-Id`, with `status` and `error` as expected, and no trace of `marker` (request bytes
 * must never be echoed). Returns the parsed body.
 */
export function expectProtocolError(
  answer: { status: number; headers: Record<string, string> | Headers; text: string },
  status: number,
  error: string,
  marker?: string,
): Record<string, unknown> & { details?: Record<string, unknown> } {
  const header = (name: string) =>
    answer.headers instanceof Headers ? answer.headers.get(name) : answer.headers[name];
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(answer.text);
  } catch {
    throw new Error(`not JSON (${answer.status}): ${answer.text.slice(0, 200)}`);
  }
  expect(schemaProblems('ErrorResponse', body), answer.text.slice(0, 300)).toEqual([]);
  expect([answer.status, body.error]).toEqual([status, error]);
  expect(body.request_id).toBe(header('x-request-id'));
  expect(body.trace_id).toBe(header('x-cycles-trace-id'));
  if (marker !== undefined) expect(answer.text).not.toContain(marker);
  return body;
}
