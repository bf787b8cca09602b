// @cycles-guard/bedrock/wire: Bedrock's request and response shapes without the AWS SDK (read, clamp,
// usage, is-billed), for every package that guards Bedrock calls (the plugin, the LangChain cap).
export { sdkErrorStatus, unbilledBedrockFailure } from './billing.ts';
export { clampConverse, converseUsage, messagesInput, type RequestLimits, readConverse } from './converse.ts';
export {
  anthropicUsage,
  clampInvokeBody,
  headerUsage,
  invocationMetricsUsage,
  invokeBodyUsage,
  openaiUsage,
  readInvokeBody,
} from './invoke-bodies.ts';
export {
  asCount,
  asObject,
  encodeLike,
  type JsonObject,
  parseJsonObject,
  textsOf,
  typeName,
} from './json.ts';
export { feedConverseEvent, feedInvokeChunk } from './stream-events.ts';
