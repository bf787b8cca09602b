// @cycles-guard/langchain public API.
export { CyclesCallbackHandler, type CyclesCallbackHandlerOptions } from './callback-handler.ts';
export type { SdkClient } from './capped-client.ts';
export { findCyclesError } from './find-cycles-error.ts';
export { guardChatModel, type ModelWithSdkClient } from './guard-chat-model.ts';
export type { CyclesRunSettlement } from './guarded-run.ts';
export { RUN_LINK_KEY } from './run-link.ts';
