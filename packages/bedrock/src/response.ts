import type { ServiceInputTypes, ServiceOutputTypes } from '@aws-sdk/client-bedrock-runtime';
import { currentBudget } from '@cycles-guard/core';
import type { LlmCall } from '@cycles-guard/core/llm';
import type {
  DeserializeMiddleware,
  HandlerExecutionContext,
  RelativeMiddlewareOptions,
} from '@smithy/types';
import { asObject } from './wire/json.ts';

/** Per-send state shared by the initialize middleware and its deserialize companion. */
export interface GuardState {
  call: LlmCall;
  /** The raw response; `rawHeaders` as the SDK gave them (see {@link responseHeaders}). */
  response?: { statusCode: number; rawHeaders: unknown; body: unknown };
}

export const STATE = 'cyclesBedrockGuard';

/**
 * The call behind each outgoing HttpRequest, for request handlers wrapped by `createGuardedBedrockClient`
 * (they read `call.signal`; the plain plugin never creates it, an AbortSignal costs microseconds).
 */
export const requestCalls = new WeakMap<object, LlmCall>();
const stateOf = (context: HandlerExecutionContext): GuardState | undefined =>
  context[STATE] as GuardState | undefined;

/** The deserialize-step companion, placed next to the deserializer so it sees the raw HttpResponse. */
export const cyclesBedrockResponseMiddlewareOptions: RelativeMiddlewareOptions = {
  name: 'cyclesBedrockResponseMiddleware',
  relation: 'before',
  toMiddleware: 'deserializerMiddleware',
  tags: ['CYCLES', 'BUDGET'],
  override: true,
};

/**
 * Deserialize-step companion: shares each request's call with a request handler wrapped by
 * `createGuardedBedrockClient` (which adds it for that). Everything else (the raw response, the abort
 * race, closing a body when the call aborts) is done by the initialize middleware, from the
 * `response` the SDK hands back up the stack: every middleware in the stack costs each call several
 * microseconds to resolve, so the plain plugin adds only that one.
 */
export function cyclesBedrockResponseMiddleware(
  options: {
    /**
     * Records each request's call for a request handler wrapped by `createGuardedBedrockClient`.
     * @default false
     */
    shareCallsWithHandler?: boolean;
  } = {},
): DeserializeMiddleware<ServiceInputTypes, ServiceOutputTypes> {
  const share = options.shareCallsWithHandler === true;
  return (next, context) => (args) => {
    const state = stateOf(context);
    const request = asObject(args.request);
    if (share && state !== undefined && request !== undefined) requestCalls.set(request, state.call);
    return next(args);
  };
}

/**
 * Before the response only the budget context's signal can abort the call (a cutoff needs a stream,
 * and the plugin passes no signal of its own): without one, the request needs no abort race.
 */
export function canAbortBeforeResponse(call: LlmCall): boolean {
  return call.aborted || currentBudget()?.signal !== undefined;
}

/**
 * Records the raw response (from the `response` the SDK hands back up the stack) on `state`. A
 * stream's body is destroyed if the call aborts later (closing the connection stops Bedrock
 * generating); the other commands have read their body by then.
 */
export function recordResponse(state: GuardState, result: { response: unknown }, stream: boolean): void {
  const response = asObject(result.response);
  const statusCode = typeof response?.statusCode === 'number' ? response.statusCode : 0;
  // Headers are read only by InvokeModel settlement: normalized there, not on every call.
  state.response = { statusCode, rawHeaders: response?.headers, body: response?.body };
  if (stream) state.call.onAbort(() => destroyBody(response?.body));
}

/** Rejects as soon as the call aborts (at once if it already has); a late response has its body destroyed. */
export function raceAbort<T extends { response: unknown }>(
  send: () => Promise<T>,
  call: LlmCall,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let aborted = false;
    const stopWatching = call.onAbort((reason) => {
      aborted = true;
      reject(reason);
    });
    if (aborted) return;
    send().then(
      (value) => {
        stopWatching();
        if (aborted) destroyBody(asObject(value.response)?.body);
        else resolve(value);
      },
      (error: unknown) => {
        stopWatching();
        reject(error);
      },
    );
  });
}

/** Response headers with lower-cased names (string values only). */
export function responseHeaders(state: GuardState): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(asObject(state.response?.rawHeaders) ?? {})) {
    if (typeof value === 'string') headers[key.toLowerCase()] = value;
  }
  return headers;
}

export function destroyBody(body: unknown): void {
  const stream = asObject(body) as { destroy?: unknown; destroyed?: unknown } | undefined;
  if (typeof stream?.destroy === 'function' && stream.destroyed !== true)
    (stream.destroy as () => void).call(stream);
}
