// @cycles-guard/ai-sdk public API.
export type { CyclesCallMetadata } from './call-metadata.ts';
export { cyclesMiddleware } from './cycles-middleware.ts';
export {
  CYCLES_PROVIDER_OPTIONS_KEY,
  type CyclesCallOptions,
  type CyclesMiddlewareOptions,
} from './options.ts';
export { type RunBudget, type RunBudgetOptions, withRunBudget } from './run-budget.ts';
