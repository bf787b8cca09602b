// @cycles-guard/core public API: what an application imports. Explicit named exports only; anything not
// listed here is private. Nested option and result types are reached through the root types
// (`CyclesOptions['telemetry']`, `BudgetContext['run']`); one event is `Extract<CyclesEvent, { type: 'denial' }>`.
// The rest lives on subpaths named for what it is: `./llm` (adapters' building blocks, prices),
// `./reports` (spend log and reports), `./webhooks` (protocol events and their delivery), `./protocol`
// (wire codecs and protocol types), `./ledger-kit` (ledger implementers' tools), `./testing`.

export type { BudgetAuthority } from './authority.ts';
export { type CyclesOptions, optionsFromEnv } from './config.ts';
export {
  type Cycles,
  createCycles,
  currentCycles,
  cyclesFromEnv,
  getDefaultCycles,
  setDefaultCycles,
} from './cycles.ts';
export type { CyclesEvent, CyclesEventHandler } from './events.ts';
export { budgetErrorResponse } from './http/budget-error-response.ts';
export { BUDGET_HEADERS, remainingBudgetHeaders, subjectBalances } from './http/remaining-budget.ts';
export { loadLedgerConfig } from './ledger/config-file.ts';
export { createMemoryLedger, type MemoryLedgerOptions } from './ledger/memory-ledger.ts';
export type { Ledger } from './ledger/types.ts';
export {
  type BudgetContext,
  type BudgetContextOptions,
  currentBudget,
  runWithBudget,
} from './lifecycle/budget-context.ts';
export type { GuardOptions } from './lifecycle/guard.ts';
export type { Hold, ReserveOptions, Settlement } from './lifecycle/hold.ts';
export { type RunBudget, type RunBudgetOptions, withRunBudget } from './lifecycle/run-budget.ts';
export type { LlmCallOutcome } from './llm/call-outcome.ts';
export { createPriceCatalog } from './llm/catalog.ts';
export { ErrorCode } from './protocol/enums.ts';
export {
  AuthorityUnavailableError,
  BudgetClosedError,
  BudgetExceededError,
  BudgetFrozenError,
  CyclesError,
  DebtOutstandingError,
  ForbiddenError,
  IdempotencyMismatchError,
  InternalError,
  InvalidConfigError,
  InvalidRequestError,
  LimitExceededError,
  MaxExtensionsExceededError,
  ModelNotPricedError,
  NotFoundError,
  OverdraftLimitExceededError,
  ReservationExpiredError,
  ReservationFinalizedError,
  TenantClosedError,
  UnauthorizedError,
  UnitMismatchError,
} from './protocol/errors.ts';
export type { Action, Balance, LedgerState, Subject } from './protocol/types.ts';
export { createHttpAuthority, type HttpAuthorityOptions } from './remote/http-authority.ts';
