export { type InputAccounting, PromptCache } from './cache.ts';
export type { Latency, ServiceTier } from './context.ts';
export { BedrockError, type BedrockErrorType, ERROR_STATUS } from './errors.ts';
export {
  decodeFrame,
  EVENT_STREAM_CONTENT_TYPE,
  encodeChunk,
  encodeEvent,
  encodeException,
} from './event-stream.ts';
export { FAULT_HEADER, type Fault, type FaultKind, type StreamExceptionType } from './faults.ts';
export {
  chunkTokens,
  DEFAULT_OUTPUT_RANGE,
  type Generation,
  type GenerationRequest,
  generate,
  MAX_CHUNK_TOKENS,
  type OutputTokensOption,
} from './generator.ts';
export {
  BUILTIN_MODELS,
  type ModelFamily,
  type ModelInfo,
  type ModelResolution,
  type ModelTable,
  resolveModel,
} from './models.ts';
export type { Operation } from './operations.ts';
export { anthropicSegments, converseSegments, plainPromptSegments } from './prompt.ts';
export type { RecordedRequest } from './recorder.ts';
export { type BedrockEmulator, type BedrockEmulatorOptions, startBedrockEmulator } from './server.ts';
export {
  countInputTokens,
  countTextTokens,
  type PromptSegment,
  TOKEN_RULE,
  TOKENS_PER_MESSAGE,
} from './tokens.ts';
export { type PlannedToolCall, planToolCall, sampleOfSchema, type ToolCallsOption } from './tool-calls.ts';
