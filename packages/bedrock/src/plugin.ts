import {
  BedrockRuntimeClient,
  type BedrockRuntimeClientConfig,
  type ServiceInputTypes,
  type ServiceOutputTypes,
} from '@aws-sdk/client-bedrock-runtime';
import type { Pluggable } from '@smithy/types';
import {
  type CyclesBedrockOptions,
  cyclesBedrockMiddleware,
  cyclesBedrockMiddlewareOptions,
  cyclesBedrockResponseMiddleware,
  cyclesBedrockResponseMiddlewareOptions,
} from './middleware.ts';

/**
 * Guards every Converse, ConverseStream, InvokeModel and InvokeModelWithResponseStream call of a
 * `BedrockRuntimeClient`: `client.middlewareStack.use(cyclesBedrockPlugin({ ... }))`.
 */
export function cyclesBedrockPlugin(
  options: CyclesBedrockOptions = {},
): Pluggable<ServiceInputTypes, ServiceOutputTypes> {
  return {
    applyToStack(stack) {
      stack.add(cyclesBedrockMiddleware(options), cyclesBedrockMiddlewareOptions);
      stack.addRelativeTo(cyclesBedrockResponseMiddleware(), cyclesBedrockResponseMiddlewareOptions);
    },
  };
}

/** A `BedrockRuntimeClient` with {@link cyclesBedrockPlugin} applied (and CountTokens wired to itself). */
export function createGuardedBedrockClient(
  config: BedrockRuntimeClientConfig = {},
  options: CyclesBedrockOptions = {},
): BedrockRuntimeClient {
  const client = new BedrockRuntimeClient(config);
  client.middlewareStack.use(cyclesBedrockPlugin({ client, ...options }));
  return client;
}
