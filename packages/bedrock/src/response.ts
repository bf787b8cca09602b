import type { ServiceInputTypes, ServiceOutputTypes } from '@aws-sdk/client-bedrock-runtime';
import type { LlmCall } from '@cycles-guard/core';
import type {
  DeserializeHandlerOutput,
  DeserializeMiddleware,
  HandlerExecutionContext,
  RelativeMiddlewareOptions,
} from '@smithy/types';
import { asObject } from './json.ts';

/** Per-send state shared by the initialize middleware and its deserialize companion. */
export interface GuardState {
  call: LlmCall;
  response?: { statusCode: number; headers: Record<string, string | undefined>; body: unknown };
}

export const STATE = 'cyclesBedrockGuard';

/** Call signal per outgoing HttpRequest, for request handlers wrapped by `createGuardedBedrockClient`. */
export const requestSignals = new WeakMap<object, AbortSignal>();
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
 * abort destroys the response body (closing the connection) instead.
 */
export function cyclesBedrockResponseMiddleware(): DeserializeMiddleware<
  ServiceInputTypes,
  ServiceOutputTypes
> {
  return (next, context) => async (args) => {
    const state = stateOf(context);
    if (state === undefined) return next(args);
    const { signal } = state.call;
    signal.throwIfAborted();
    const request = asObject(args.request);
    if (request !== undefined) requestSignals.set(request, signal);
    const pending = next(args);
    const result = await raceAbort(pending, signal);
    const response = asObject(result.response);
    const headers: Record<string, string | undefined> = {};
    for (const [key, value] of Object.entries(asObject(response?.headers) ?? {})) {
      if (typeof value === 'string') headers[key.toLowerCase()] = value;
    }
    const statusCode = typeof response?.statusCode === 'number' ? response.statusCode : 0;
    state.response = { statusCode, headers, body: response?.body };
    const destroy = () => destroyBody(response?.body);
    if (signal.aborted) destroy();
    else signal.addEventListener('abort', destroy, { once: true });
    return result;
  };
}

/** Rejects as soon as `signal` aborts; a response arriving later has its body destroyed. */
function raceAbort<T extends DeserializeHandlerOutput<ServiceOutputTypes>>(
  pending: Promise<T>,
  signal: AbortSignal,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason);
      pending.then((late) => destroyBody(asObject(late.response)?.body)).catch(() => {});
    };
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

export function destroyBody(body: unknown): void {
  const stream = asObject(body) as { destroy?: unknown; destroyed?: unknown } | undefined;
  if (typeof stream?.destroy === 'function' && stream.destroyed !== true)
    (stream.destroy as () => void).call(stream);
}
