import {
  BedrockRuntimeClient,
  type BedrockRuntimeClientConfig,
  type ServiceInputTypes,
  type ServiceOutputTypes,
} from '@aws-sdk/client-bedrock-runtime';
import { AWS_REGION } from '@cycles-guard/core/llm';
import type { Pluggable } from '@smithy/types';
import { type CyclesBedrockOptions, cyclesBedrockMiddlewareOptions, guardMiddleware } from './middleware.ts';
import {
  cyclesBedrockResponseMiddleware,
  cyclesBedrockResponseMiddlewareOptions,
  requestCalls,
} from './response.ts';

/**
 * Guards every Converse, ConverseStream, InvokeModel and InvokeModelWithResponseStream call of a
 * `BedrockRuntimeClient`: `client.middlewareStack.use(cyclesBedrockPlugin({ ... }))`.
 */
export function cyclesBedrockPlugin(
  options: CyclesBedrockOptions = {},
): Pluggable<ServiceInputTypes, ServiceOutputTypes> {
  return guardPlugin(options, false);
}

function guardPlugin(
  options: CyclesBedrockOptions,
  shareCallsWithHandler: boolean,
): Pluggable<ServiceInputTypes, ServiceOutputTypes> {
  return {
    applyToStack(stack) {
      stack.add(guardMiddleware(options, shareCallsWithHandler), cyclesBedrockMiddlewareOptions);
      // Only a wrapped request handler needs the deserialize-step companion (it reads each request's
      // call); every stack entry costs each call microseconds to resolve.
      if (shareCallsWithHandler) {
        stack.addRelativeTo(
          cyclesBedrockResponseMiddleware({ shareCallsWithHandler }),
          cyclesBedrockResponseMiddlewareOptions,
        );
      }
    },
  };
}

/**
 * A `BedrockRuntimeClient` with {@link cyclesBedrockPlugin} applied, CountTokens wired to itself, and
 * its request handler given each call's signal, so a cutoff or budget-context abort also cancels a
 * request that has not answered yet (the plain plugin can only close the response once it arrives).
 */
export function createGuardedBedrockClient(
  config: BedrockRuntimeClientConfig = {},
  options: CyclesBedrockOptions = {},
): BedrockRuntimeClient {
  const client = new BedrockRuntimeClient(config);
  const handler = client.config.requestHandler as unknown as HandlerLike | undefined;
  const wrapHandler = handler !== undefined && typeof handler.handle === 'function';
  // A string region prices region-specific rates (a region provider would cost an await per call;
  // a name that is no AWS region, e.g. a local test endpoint's, is left out rather than refused).
  const region =
    typeof config.region === 'string' && AWS_REGION.test(config.region) ? { region: config.region } : {};
  client.middlewareStack.use(guardPlugin({ client, ...region, ...options }, wrapHandler));
  if (wrapHandler) {
    const original = handler.handle.bind(handler);
    handler.handle = (request, handlerOptions) => {
      const call = typeof request === 'object' && request !== null ? requestCalls.get(request) : undefined;
      if (call === undefined) return original(request, handlerOptions);
      const callSignal = call.signal;
      const outer = handlerOptions?.abortSignal;
      const abortSignal = outer instanceof AbortSignal ? AbortSignal.any([outer, callSignal]) : callSignal;
      return original(request, { ...handlerOptions, abortSignal });
    };
  }
  return client;
}

interface HandlerLike {
  handle(request: unknown, options?: { abortSignal?: unknown; [key: string]: unknown }): Promise<unknown>;
}
