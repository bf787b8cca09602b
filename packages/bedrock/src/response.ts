import type { ServiceInputTypes, ServiceOutputTypes } from '@aws-sdk/client-bedrock-runtime';
import { currentBudget, type LlmCall } from '@cycles-guard/core';
import type {
  DeserializeHandlerArguments,
  DeserializeHandlerOutput,
  DeserializeMiddleware,
  HandlerExecutionContext,
  RelativeMiddlewareOptions,
} from '@smithy/types';
import { asObject } from './json.ts';

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
 * Deserialize-step companion: records the raw response (status, usage headers) and ties the call's
 * signal to it. The SDK's `abortSignal` is invisible to middleware, so a cutoff or a budget-context
 * abort destroys the response body (closing the connection) instead. Uses `call.onAbort`, not
 * `call.signal`: creating an AbortSignal per call was a measurable part of the guard's overhead.
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
  return (next, context) => async (args) => {
    const state = stateOf(context);
    if (state === undefined) return next(args);
    const { call } = state;
    const request = asObject(args.request);
    if (share && request !== undefined) requestCalls.set(request, call);
    // Before the response only the budget context's signal can abort the call (a cutoff needs a
    // stream, and the plugin passes no signal of its own): without one, skip the race.
    const result =
      currentBudget()?.signal === undefined && !call.aborted
        ? await next(args)
        : await raceAbort(next, args, call);
    const response = asObject(result.response);
    const statusCode = typeof response?.statusCode === 'number' ? response.statusCode : 0;
    // Headers are read only by InvokeModel settlement: normalized there, not on every call.
    state.response = { statusCode, rawHeaders: response?.headers, body: response?.body };
    call.onAbort(() => destroyBody(response?.body));
    return result;
  };
}

/** Rejects as soon as the call aborts (at once if it already has); a late response has its body destroyed. */
function raceAbort<T extends DeserializeHandlerOutput<ServiceOutputTypes>>(
  next: (args: DeserializeHandlerArguments<ServiceInputTypes>) => Promise<T>,
  args: DeserializeHandlerArguments<ServiceInputTypes>,
  call: LlmCall,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let aborted = false;
    const stopWatching = call.onAbort((reason) => {
      aborted = true;
      reject(reason);
    });
    if (aborted) return;
    const pending = next(args);
    pending.then(
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
