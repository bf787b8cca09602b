// @cycles-guard/core public API: what an application imports. Explicit named exports only; anything not
// listed here is private. Wire codecs, validators and protocol types for ledgers and servers are on
// `@cycles-guard/core/protocol`; ledger implementers' tools on `./ledger-kit`.

export type { BudgetAuthority } from './authority.ts';
export type { Clock } from './clock.ts';
export {
  type CyclesOptions,
  type CyclesUnit,
  optionsFromEnv,
  type ResolvedCyclesConfig,
  type RetryOptions,
} from './config.ts';
export {
  type Cycles,
  createCycles,
  currentCycles,
  cyclesFromEnv,
  getDefaultCycles,
  setDefaultCycles,
} from './cycles.ts';
export type {
  CappedEvent,
  CommitEvent,
  CutoffEvent,
  CyclesEvent,
  CyclesEventHandler,
  DecisionEvent,
  DenialEvent,
  FailOpenEvent,
  HeartbeatStoppedEvent,
  ObservedEvent,
  ReleaseEvent,
  SettleErrorEvent,
  SettlementDroppedEvent,
  SettlementQueuedEvent,
  SettlementReplayedEvent,
} from './events.ts';
export {
  type BudgetErrorBody,
  type BudgetErrorResponse,
  type BudgetErrorResponseOptions,
  budgetErrorResponse,
} from './http/budget-error-response.ts';
export { BUDGET_HEADERS, remainingBudgetHeaders, subjectBalances } from './http/remaining-budget.ts';
export { type LedgerConfig, loadLedgerConfig } from './ledger/config-file.ts';
export type { LedgerEventsOptions, ThresholdRule } from './ledger/events/event-log.ts';
export type { EventCategory, EventType, ProtocolEvent } from './ledger/events/event-types.ts';
export {
  createMemoryLedger,
  DuplicateLedgerError,
  LedgerInUseError,
  type MemoryLedgerOptions,
} from './ledger/memory-ledger.ts';
export type { Ledger, LedgerDefinition, LedgerTemplate, TenantSettings } from './ledger/types.ts';
export {
  type BudgetContext,
  type BudgetContextOptions,
  currentBudget,
  type RunScope,
  runWithBudget,
} from './lifecycle/budget-context.ts';
export type { GuardOptions } from './lifecycle/guard.ts';
export type { Hold, ReserveOptions, Settlement } from './lifecycle/hold.ts';
export type { OutboxOptions } from './lifecycle/outbox/create-outbox.ts';
export type { FlushResult } from './lifecycle/outbox/settlement-outbox.ts';
export { type RunBudget, type RunBudgetOptions, withRunBudget } from './lifecycle/run-budget.ts';
export { BEDROCK_PRICES, BEDROCK_PRICES_SOURCE, BEDROCK_PRICES_VERSION } from './llm/bedrock-prices.ts';
export type { LlmCallOutcome } from './llm/call-outcome.ts';
export {
  createPriceCatalog,
  type PriceCatalog,
  type PriceCatalogOptions,
  type PriceOverride,
  type UnknownModelPolicy,
} from './llm/catalog.ts';
export type { DenyDetail } from './protocol/deny-detail.ts';
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
export type {
  Action,
  Balance,
  BudgetWindow,
  Caps,
  LedgerState,
  Metadata,
  StandardMetrics,
  Subject,
} from './protocol/types.ts';
export { createHttpAuthority, type HttpAuthorityOptions } from './remote/http-authority.ts';
export {
  recordSpend,
  type SpendGroup,
  type SpendInterval,
  SpendLog,
  type SpendLogOptions,
  type SpendReport,
  type SpendReportQuery,
  type SpendReportRow,
  spendReport,
  spendReportCsv,
} from './reports/index.ts';
export type { OtelApi, TelemetryOptions } from './telemetry/index.ts';
export type { WebhookRetryPolicy } from './webhooks/retry-policy.ts';
export { signWebhookBody, verifyWebhookSignature } from './webhooks/signature.ts';
export { createWebhookSink, type WebhookSink, type WebhookSinkOptions } from './webhooks/webhook-sink.ts';
