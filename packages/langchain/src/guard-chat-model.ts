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

type Callbacks = CallbackHandlerMethods[] | CallbackManager | undefined;

/** The model's callbacks plus `handler`, as a new list or manager (the model's own stay as they were). */
function withHandler(callbacks: Callbacks, handler: CyclesCallbackHandler): Callbacks {
  if (callbacks === undefined) return [handler];
  if (Array.isArray(callbacks)) return callbacks.includes(handler) ? callbacks : [...callbacks, handler];
  return callbacks.handlers.includes(handler) ? callbacks : callbacks.copy([handler], false);
}

/**
 * A guarded model: a new instance of `model`'s class (it inherits every field and method from
 * `model`) with `handler` in its callbacks (reserve, veto, commit) and a capped view of the Bedrock
 * client (the request carries the granted max tokens). `model` itself is left as it was, as
 * LangChain's own wrappers (`withConfig`, `bindTools`) leave theirs, so it can still be used unguarded
 * or guarded by another handler. `createAgent({ model: guardChatModel(new ChatBedrockConverse(...), handler) })`.
 */
export function guardChatModel<Model extends ModelWithSdkClient>(
  model: Model,
  handler: CyclesCallbackHandler,
): Model {
  const guarded = Object.create(model) as Model;
  guarded.client = handler.capClient(model.client);
  // Lets the handler know a failed run of this model that the cap never saw was never sent.
  guarded.metadata = { ...model.metadata, [CAPPED_MODEL_METADATA_KEY]: true };
  guarded.callbacks = withHandler(model.callbacks as Callbacks, handler);
  return guarded;
}
