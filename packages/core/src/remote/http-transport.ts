import {
  AuthorityUnavailableError,
  CyclesError,
  InvalidConfigError,
  InvalidRequestError,
} from '../protocol/errors.ts';
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

/** A header value fetch can send as is: visible ASCII and spaces (others make fetch throw). */
const HEADER_SAFE = /^[\x20-\x7e]*$/;

/** How deep the search for an unsendable value looks once `JSON.stringify` has failed. */
const MAX_SEARCH_DEPTH = 1000;

interface Visit {
  value: unknown;
  key: string;
  parent: Visit | undefined;
  depth: number;
  exit?: true;
}

function pathOf(visit: Visit): string {
  const keys: string[] = [];
  for (let at: Visit | undefined = visit; at?.parent !== undefined; at = at.parent) keys.push(at.key);
  keys.reverse();
  return keys.length > 8 ? `${keys.slice(0, 8).join('.')}…(${keys.length} levels)` : keys.join('.') || 'body';
}

/**
 * Why a body `JSON.stringify` refused cannot be sent, and where: a cycle, a BigInt, a throwing
 * `toJSON`, or nesting too deep to serialize. One pass without recursion, mirroring JSON.stringify.
 */
function findUnsendable(body: unknown): { field: string; problem: string } | undefined {
  const onPath = new Set<object>();
  const stack: Visit[] = [{ value: body, key: '', parent: undefined, depth: 0 }];
  let tooDeep: Visit | undefined;
  while (stack.length > 0) {
    const visit = stack.pop() as Visit;
    if (visit.exit) {
      onPath.delete(visit.value as object);
      continue;
    }
    let value = visit.value;
    const toJSON = (value as { toJSON?: unknown } | null)?.toJSON;
    if (typeof toJSON === 'function') {
      try {
        value = toJSON.call(value, visit.key);
      } catch (error) {
        return { field: pathOf(visit), problem: `has a toJSON() that throws (${describe(error)})` };
      }
    }
    if (typeof value === 'bigint') {
      return {
        field: pathOf(visit),
        problem: 'is a BigInt, which JSON cannot hold: send a number or a string',
      };
    }
    if (typeof value !== 'object' || value === null) continue;
    if (onPath.has(value)) {
      return {
        field: pathOf(visit),
        problem: 'refers back to an object that contains it (a cycle): send a copy without it',
      };
    }
    if (visit.depth >= MAX_SEARCH_DEPTH) {
      tooDeep ??= visit;
      continue;
    }
    onPath.add(value);
    stack.push({ ...visit, value, exit: true });
    for (const [key, child] of Object.entries(value)) {
      stack.push({ value: child, key, parent: visit, depth: visit.depth + 1 });
    }
  }
  return tooDeep === undefined
    ? undefined
    : { field: pathOf(tooDeep), problem: 'nests too deep to serialize: flatten it' };
}

/**
 * The JSON text of a request body. A body that cannot be serialized is the caller's mistake, not an
 * outage: it is an INVALID_REQUEST naming the field, thrown before anything is sent and never retried.
 */
function serializeBody(body: object): string {
  try {
    return JSON.stringify(body);
  } catch (error) {
    const found = findUnsendable(body) ?? {
      field: 'body',
      problem: `cannot be serialized (${describe(error)})`,
    };
    throw new InvalidRequestError(`${found.field} ${found.problem}`, {
      cause: error,
      details: { field: found.field },
    });
  }
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
  if (!HEADER_SAFE.test(options.apiKey)) {
    throw new InvalidConfigError('apiKey must be visible ASCII (it is sent as the X-Cycles-API-Key header)', {
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

  /** The call's headers and body text; throws (typed, nothing sent) when the body cannot be sent. */
  function prepare(call: HttpCall): { headers: Record<string, string>; payload: string | undefined } {
    const headers: Record<string, string> = {
      'X-Cycles-API-Key': options.apiKey,
      Accept: 'application/json',
    };
    if (call.body === undefined) return { headers, payload: undefined };
    headers['Content-Type'] = 'application/json';
    // The header is optional (the body carries the key): a key fetch cannot put in a header is sent in
    // the body only, so the server still checks it rather than fetch throwing.
    const key = call.body.idempotency_key;
    if (typeof key === 'string' && HEADER_SAFE.test(key)) headers['X-Idempotency-Key'] = key;
    return { headers, payload: serializeBody(call.body) };
  }

  async function attempt(
    call: HttpCall,
    headers: Record<string, string>,
    payload: string | undefined,
  ): Promise<{ status: number; body: unknown; retryAfterMs?: number }> {
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
      const { headers, payload } = prepare(call);
      let lastProblem: unknown;
      for (let attemptNumber = 0; attemptNumber <= retries; attemptNumber++) {
        let outcome: Awaited<ReturnType<typeof attempt>>;
        try {
          outcome = await attempt(call, headers, payload);
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
