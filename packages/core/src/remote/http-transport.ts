import { AuthorityUnavailableError, CyclesError, InvalidConfigError } from '../protocol/errors.ts';
import { fromWireErrorResponse } from '../protocol/mappers.ts';

/** How `createHttpAuthority` reaches a Cycles server. */
export interface HttpTransportOptions {
  /** The server's API base, e.g. `https://cycles.example.com` (`/v1/...` is appended). */
  baseUrl: string;
  /** Sent as `X-Cycles-API-Key`; the server maps it to the effective tenant. */
  apiKey: string;
  /**
   * Per-attempt deadline. A server that does not answer in time counts as unavailable (fail closed).
   * @default 5000
   */
  timeoutMs?: number;
  /**
   * Extra attempts after a transport error, a 5xx or a 429, always with the same idempotency key.
   * @default 2
   */
  retries?: number;
  /**
   * Longest `Retry-After` honoured on a 429; a longer wait is returned to the caller as LimitExceededError.
   * @default 10000
   */
  maxRetryAfterMs?: number;
  /** The fetch implementation (tests, proxies, custom agents). @default globalThis.fetch */
  fetch?: typeof fetch;
}

/** One HTTP exchange: method, path with query, and an optional JSON body. */
export interface HttpCall {
  method: 'GET' | 'POST';
  path: string;
  body?: { idempotency_key: string } & Record<string, unknown>;
}

/** The base delay of the exponential backoff between retries. */
const BACKOFF_MS = 50;

/** A response that says nothing about the request itself: try again with the same key. */
function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/** `Retry-After` in ms: delta-seconds (the protocol's form) or an HTTP date; undefined when absent or bad. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** True when a body is the protocol's ErrorResponse (a proxy's 502 page is not). */
function isProtocolError(body: unknown): boolean {
  return typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string';
}

/** Sends calls to a Cycles server with auth, idempotency headers, timeouts and retries. */
export interface HttpTransport {
  send(call: HttpCall): Promise<unknown>;
}

/** Validates the options and returns a transport; bad options throw InvalidConfigError naming the field. */
export function createHttpTransport(options: HttpTransportOptions): HttpTransport {
  let base: URL;
  try {
    base = new URL(options.baseUrl);
  } catch {
    throw new InvalidConfigError(`baseUrl must be an absolute http(s) URL, got "${options.baseUrl}"`, {
      details: { field: 'baseUrl' },
    });
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new InvalidConfigError(`baseUrl must use http or https, got ${base.protocol}`, {
      details: { field: 'baseUrl' },
    });
  }
  if (typeof options.apiKey !== 'string' || options.apiKey === '') {
    throw new InvalidConfigError('apiKey is required: pass the X-Cycles-API-Key your server issued', {
      details: { field: 'apiKey' },
    });
  }
  const timeoutMs = options.timeoutMs ?? 5000;
  const retries = options.retries ?? 2;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 10_000;
  for (const [field, value] of [
    ['timeoutMs', timeoutMs],
    ['retries', retries],
    ['maxRetryAfterMs', maxRetryAfterMs],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new InvalidConfigError(`${field} must be a non-negative integer, got ${String(value)}`, {
        details: { field },
      });
    }
  }
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const root = base.href.replace(/\/+$/, '');

  async function attempt(call: HttpCall): Promise<{ status: number; body: unknown; retryAfterMs?: number }> {
    const headers: Record<string, string> = {
      'X-Cycles-API-Key': options.apiKey,
      Accept: 'application/json',
    };
    let payload: string | undefined;
    if (call.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['X-Idempotency-Key'] = call.body.idempotency_key;
      payload = JSON.stringify(call.body);
    }
    const response = await fetchImpl(`${root}${call.path}`, {
      method: call.method,
      headers,
      body: payload,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = await readJson(response);
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
    return retryAfterMs === undefined
      ? { status: response.status, body }
      : { status: response.status, body, retryAfterMs };
  }

  return {
    async send(call) {
      let lastProblem: unknown;
      for (let attemptNumber = 0; attemptNumber <= retries; attemptNumber++) {
        let outcome: Awaited<ReturnType<typeof attempt>>;
        try {
          outcome = await attempt(call);
        } catch (error) {
          // Refused, reset or timed out: the request may or may not have landed; retry replays it.
          lastProblem = error;
          if (attemptNumber < retries) await sleep(BACKOFF_MS * 2 ** attemptNumber);
          continue;
        }
        const { status, body, retryAfterMs } = outcome;
        if (status >= 200 && status < 300) return body;
        const typed = isProtocolError(body)
          ? fromWireErrorResponse(body, status, retryAfterMs === undefined ? {} : { retryAfterMs })
          : undefined;
        if (!isRetryableStatus(status)) {
          throw typed ?? fromWireErrorResponse(body, status);
        }
        lastProblem = typed ?? new Error(`HTTP ${status}`);
        if (attemptNumber >= retries) break;
        if (status === 429 && (retryAfterMs ?? 0) > maxRetryAfterMs) break;
        await sleep(Math.max(retryAfterMs ?? 0, BACKOFF_MS * 2 ** attemptNumber));
      }
      // The server's own error body (429 LIMIT_EXCEEDED, 500 INTERNAL_ERROR) goes back typed; no answer,
      // or a body that is not the protocol's (a proxy's 502 page), means the authority is unreachable.
      if (CyclesError.isInstance(lastProblem)) throw lastProblem;
      throw new AuthorityUnavailableError(
        `Cycles server at ${root} did not answer ${call.method} ${call.path.split('?')[0]} after ${
          retries + 1
        } attempts (timeout ${timeoutMs} ms each): ${describe(lastProblem)}`,
        { cause: lastProblem, details: { baseUrl: root } },
      );
    },
  };
}

function describe(problem: unknown): string {
  if (problem instanceof Error) {
    const cause = (problem as { cause?: unknown }).cause;
    const detail = cause instanceof Error ? ` (${cause.message})` : '';
    return `${problem.name === 'TimeoutError' ? 'timed out' : problem.message}${detail}`;
  }
  return String(problem);
}
