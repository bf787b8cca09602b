import { randomFillSync } from 'node:crypto';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;
const TRACE_ID = /^[0-9a-f]{32}$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

// Random bytes drawn 4 KiB at a time: one synchronous CSPRNG call per 256 trace ids instead of one per
// request (it showed in the server's profile under load).
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

/** A fresh W3C trace id: 16 random bytes as lowercase hex, never all zeros. */
export function newTraceId(): string {
  for (;;) {
    if (poolOffset === pool.length) {
      randomFillSync(pool);
      poolOffset = 0;
    }
    const id = pool.toString('hex', poolOffset, poolOffset + 16);
    poolOffset += 16;
    if (id !== ZERO_TRACE) return id;
  }
}

/**
 * The request's trace id by the spec's precedence: a valid `traceparent` (version 00, non-zero trace
 * and span ids), else a valid `X-Cycles-Trace-Id`, else a new one. Malformed headers count as absent.
 */
export function traceIdOf(headers: Record<string, string | string[] | undefined>): string {
  const parent = TRACEPARENT.exec(header(headers.traceparent)?.trim() ?? '');
  if (parent?.[1] !== undefined && parent[1] !== ZERO_TRACE && parent[2] !== ZERO_SPAN) return parent[1];
  const flat = header(headers['x-cycles-trace-id'])?.trim();
  if (flat !== undefined && TRACE_ID.test(flat) && flat !== ZERO_TRACE) return flat;
  return newTraceId();
}
