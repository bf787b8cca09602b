// @cycles-guard/ai-sdk public API.

export type { LlmCallOutcome } from '@cycles-guard/core';
// Lives in core (any adapter's agent loop can have a run budget); re-exported where it was first documented.
export { type RunBudget, type RunBudgetOptions, withRunBudget } from '@cycles-guard/core';
export { cyclesMiddleware, cyclesModelMiddleware } from './cycles-middleware.ts';
export {
  CYCLES_PROVIDER_OPTIONS_KEY,
  type CyclesCallOptions,
  type CyclesMiddlewareOptions,
} from './options.ts';
export { budgetDeniedResponse, cyclesErrorText, type StreamTextLike, streamStarted } from './stream-start.ts';
