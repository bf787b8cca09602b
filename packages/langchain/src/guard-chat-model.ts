import type { CallbackHandlerMethods } from '@langchain/core/callbacks/base';
import type { CallbackManager } from '@langchain/core/callbacks/manager';
import type { CyclesCallbackHandler } from './callback-handler.ts';
import type { SdkClient } from './capped-client.ts';
import { CAPPED_MODEL_METADATA_KEY } from './run-link.ts';

/** A chat model whose requests go through an AWS SDK client, e.g. `ChatBedrockConverse`. */
export interface ModelWithSdkClient {
  client: SdkClient;
  callbacks?: unknown;
  metadata?: Record<string, unknown>;
}

/**
 * Guards every call of `model`: puts `handler` in the model's callbacks (reserve, veto, commit) and
 * gives the model a capped view of its Bedrock client (the request carries the granted max tokens).
 * Returns the model, so `createAgent({ model: guardChatModel(new ChatBedrockConverse(...), handler) })`
 * reads well.
 */
export function guardChatModel<Model extends ModelWithSdkClient>(
  model: Model,
  handler: CyclesCallbackHandler,
): Model {
  model.client = handler.capClient(model.client);
  // Lets the handler know a failed run of this model that the cap never saw was never sent.
  model.metadata = { ...model.metadata, [CAPPED_MODEL_METADATA_KEY]: true };
  const callbacks = model.callbacks as CallbackHandlerMethods[] | CallbackManager | undefined;
  if (callbacks === undefined) model.callbacks = [handler];
  else if (Array.isArray(callbacks)) {
    if (!callbacks.includes(handler)) model.callbacks = [...callbacks, handler];
  } else callbacks.addHandler(handler, false);
  return model;
}
