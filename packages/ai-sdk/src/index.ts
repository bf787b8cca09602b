// @cycles-guard/ai-sdk public API.
export {
  CYCLES_PROVIDER_OPTIONS_KEY,
  type CyclesCallMetadata,
  type CyclesCallOptions,
  type CyclesMiddlewareOptions,
  cyclesMiddleware,
} from './cycles-middleware.ts';
export { type RunBudget, type RunBudgetOptions, withRunBudget } from './run-budget.ts';
