// @cycles-guard/bedrock public API.
export {
  type CountTokensSender,
  type CyclesBedrockOptions,
  cyclesBedrockMiddleware,
  cyclesBedrockMiddlewareOptions,
  cyclesBedrockResponseMiddleware,
  cyclesBedrockResponseMiddlewareOptions,
  getCyclesResult,
} from './middleware.ts';
export { createGuardedBedrockClient, cyclesBedrockPlugin } from './plugin.ts';
export type { CyclesBedrockResult } from './settle.ts';
