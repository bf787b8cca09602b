// @cycles-guard/core public API: what an application imports. Explicit named exports only; anything not
// listed here is private. Wire codecs, validators and protocol types for ledgers and servers are on
// `@cycles-guard/core/protocol`; ledger implementers' tools on `./ledger-kit`.

export type { BudgetAuthority } from './authority.ts';
export { type Clock, ManualClock, systemClock } from './clock.ts';
export {
  type CyclesOptions,
  type CyclesUnit,
  DEFAULT_MIN_OUTPUT_TOKENS,
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
export {
  BUDGET_HEADERS,
  remainingBudgetHeaders,
  subjectBalances,
  tightestBalance,
} from './http/remaining-budget.ts';
export { readSubjectBalances } from './http/subject-balances.ts';
export { planOverage } from './ledger/commit-math.ts';
export {
  type LedgerConfig,
  loadLedgerConfig,
  parseLedgerConfig,
  readConfigFile,
} from './ledger/config-file.ts';
export type {
  LedgerEvents,
  LedgerEventsOptions,
  ProtocolEventListener,
  ThresholdRule,
} from './ledger/events/event-log.ts';
export type { EventPage, EventQuery } from './ledger/events/event-query.ts';
export type { EventStore } from './ledger/events/event-store.ts';
export type { EventCategory, EventType, ProtocolEvent } from './ledger/events/event-types.ts';
export { MemoryEventStore, type MemoryEventStoreOptions } from './ledger/events/memory-event-store.ts';
export {
  createMemoryLedger,
  DuplicateLedgerError,
  LedgerInUseError,
  type MemoryLedgerOptions,
} from './ledger/memory-ledger.ts';
export { type TemplateLimit, templateLimitError } from './ledger/template-census.ts';
export type { Ledger, LedgerDefinition, LedgerTemplate, TenantSettings } from './ledger/types.ts';
export { windowBounds } from './ledger/windows.ts';
export {
  type BudgetContext,
  type BudgetContextOptions,
  currentBudget,
  mergeSubjects,
  type RunScope,
  runWithBudget,
} from './lifecycle/budget-context.ts';
export type { GuardOptions } from './lifecycle/guard.ts';
export type { Hold, ReserveOptions, Settlement } from './lifecycle/hold.ts';
export type { OutboxOptions } from './lifecycle/outbox/create-outbox.ts';
export {
  isEntryKey as isOutboxKey,
  type OutboxEntry,
  parseEntry as parseOutboxEntry,
} from './lifecycle/outbox/entry.ts';
export { createFileJournal } from './lifecycle/outbox/file-journal.ts';
export type { FlushResult } from './lifecycle/outbox/settlement-outbox.ts';
export type { SettlementStore } from './lifecycle/outbox/store.ts';
export { type RunBudget, type RunBudgetOptions, withRunBudget } from './lifecycle/run-budget.ts';
export { BEDROCK_PRICES, BEDROCK_PRICES_SOURCE, BEDROCK_PRICES_VERSION } from './llm/bedrock-prices.ts';
export type { LlmCall, LlmCallFailure, LlmCallOptions } from './llm/call-guard.ts';
export { chargedBy, type LlmCallOutcome, llmCallOutcome } from './llm/call-outcome.ts';
export {
  createPriceCatalog,
  type PriceCatalog,
  type PriceCatalogOptions,
  type PriceOverride,
  type ResolvedModel,
  type UnknownModelPolicy,
} from './llm/catalog.ts';
export {
  type LongContextRates,
  type ModelPrice,
  maxAffordableOutputTokens,
  type TokenRates,
  type TokenUsage,
  tokenCost,
  usageCost,
  usageTokens,
} from './llm/cost.ts';
export { ESTIMATE_RULE, type EstimateInput, estimateInputTokens } from './llm/estimate-tokens.ts';
export { type ModelFamily, type NormalizedModelId, normalizeModelId } from './llm/model-id.ts';
export {
  type AppliedDimensions,
  AWS_REGION,
  type CacheTtl,
  type CallRates,
  type Endpoint,
  type PriceDimensions,
  type ServiceTier,
} from './llm/price-dimensions.ts';
export {
  type LoadedPrices,
  type PricesFile,
  type PricesFileModel,
  type PricesFileRates,
  parsePricesFile,
  readPricesFile,
} from './llm/prices-file.ts';
export { StreamSettler, type StreamSettlerOptions } from './llm/stream-settler.ts';
export { failedBeforeConnecting, isUnbilledFailure } from './llm/unbilled.ts';
export type { DenyDetail } from './protocol/deny-detail.ts';
export { ErrorCode } from './protocol/enums.ts';
export {
  AuthorityUnavailableError,
  BudgetClosedError,
  BudgetExceededError,
  BudgetFrozenError,
  CyclesError,
  type CyclesErrorOptions,
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
export { createLazyAuthority } from './remote/lazy-authority.ts';
export { type LedgerScheme, registerLedgerScheme } from './remote/ledger-schemes.ts';
export {
  parseSpendReportQuery,
  recordSpend,
  SPEND_GROUPS,
  type SpendBucket,
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
export {
  GEN_AI_ATTRIBUTES,
  type OtelApi,
  TELEMETRY_ATTRIBUTES,
  TELEMETRY_METRICS,
  TELEMETRY_SCOPE,
  type TelemetryOptions,
} from './telemetry/index.ts';
export type { WebhookRetryPolicy } from './webhooks/retry-policy.ts';
export { signWebhookBody, verifyWebhookSignature } from './webhooks/signature.ts';
export { createWebhookSink, type WebhookSink, type WebhookSinkOptions } from './webhooks/webhook-sink.ts';
