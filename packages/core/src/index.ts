// @cycles-guard/core public API. Explicit named exports only; anything not listed here is private.

export type { BudgetAuthority, CallContext } from './authority.ts';
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
export { planOverage } from './ledger/commit-math.ts';
export { type LedgerConfig, loadLedgerConfig, parseLedgerConfig } from './ledger/config-file.ts';
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
export type {
  FundingOperation,
  FundingRequest,
  FundingResult,
  Ledger,
  LedgerAdmin,
  LedgerDefinition,
  LedgerTemplate,
  TemplateLedgerCounts,
  TenantSettings,
} from './ledger/types.ts';
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
export type { LlmCallTracker } from './llm/call-tracker.ts';
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
export { failedBeforeConnecting, isUnbilledFailure } from './llm/unbilled.ts';
export {
  Decision,
  ErrorCode,
  LedgerStatus,
  OVERAGE_POLICIES,
  OveragePolicy,
  PROTOCOL_ERROR_CODES,
  RESERVATION_STATUSES,
  ReasonCode,
  ReservationStatus,
  SUBJECT_LEVELS,
  type SubjectLevel,
  UNITS,
  Unit,
} from './protocol/enums.ts';
export {
  AuthorityUnavailableError,
  BudgetClosedError,
  BudgetExceededError,
  BudgetFrozenError,
  CyclesError,
  type CyclesErrorOptions,
  DebtOutstandingError,
  ERROR_STATUS,
  errorForCode,
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
export {
  fromBalancesQueryParams,
  fromListReservationsQueryParams,
  fromWireAction,
  fromWireAmount,
  fromWireBalance,
  fromWireBalancesResponse,
  fromWireCaps,
  fromWireCommitRequest,
  fromWireCommitResponse,
  fromWireDecideRequest,
  fromWireDecideResponse,
  fromWireErrorResponse,
  fromWireEventRequest,
  fromWireEventResponse,
  fromWireEvidenceRef,
  fromWireExtendRequest,
  fromWireExtendResponse,
  fromWireListReservationsResponse,
  fromWireReleaseRequest,
  fromWireReleaseResponse,
  fromWireReservationDetail,
  fromWireReservationSummary,
  fromWireReserveRequest,
  fromWireReserveResponse,
  fromWireSignedAmount,
  fromWireStandardMetrics,
  fromWireSubject,
  toBalancesQueryParams,
  toListReservationsQueryParams,
  toWireAction,
  toWireAmount,
  toWireBalance,
  toWireBalancesResponse,
  toWireCaps,
  toWireCommitRequest,
  toWireCommitResponse,
  toWireDecideRequest,
  toWireDecideResponse,
  toWireErrorResponse,
  toWireEventRequest,
  toWireEventResponse,
  toWireEvidenceRef,
  toWireExtendRequest,
  toWireExtendResponse,
  toWireListReservationsResponse,
  toWireReleaseRequest,
  toWireReleaseResponse,
  toWireReservationDetail,
  toWireReservationSummary,
  toWireReserveRequest,
  toWireReserveResponse,
  toWireSignedAmount,
  toWireStandardMetrics,
  toWireSubject,
  wireErrorStatus,
} from './protocol/mappers.ts';
export { affectedScopes, leafSegment, scopePath } from './protocol/scopes.ts';
export type {
  Action,
  Amount,
  Balance,
  BalancesQuery,
  BalancesResponse,
  BudgetWindow,
  Caps,
  CommitRequest,
  CommitResponse,
  DecideRequest,
  DecideResponse,
  EventRequest,
  EventResponse,
  EvidenceRef,
  ExtendRequest,
  ExtendResponse,
  LedgerState,
  ListReservationsQuery,
  ListReservationsResponse,
  Metadata,
  ReleaseRequest,
  ReleaseResponse,
  ReservationDetail,
  ReservationSortKey,
  ReservationSummary,
  ReserveRequest,
  ReserveResponse,
  SignedAmount,
  StandardMetrics,
  Subject,
} from './protocol/types.ts';
export {
  validateCommit,
  validateDecide,
  validateEvent,
  validateExtend,
  validateRelease,
  validateReservationId,
  validateReserve,
  validateSubject,
} from './protocol/validate.ts';
export type {
  WireAction,
  WireAmount,
  WireBalance,
  WireBalanceResponse,
  WireCaps,
  WireCommitRequest,
  WireCommitResponse,
  WireCyclesEvidenceRef,
  WireDecisionRequest,
  WireDecisionResponse,
  WireErrorCode,
  WireErrorResponse,
  WireEventCreateRequest,
  WireEventCreateResponse,
  WireReleaseRequest,
  WireReleaseResponse,
  WireReservationCreateRequest,
  WireReservationCreateResponse,
  WireReservationDetail,
  WireReservationEvidence,
  WireReservationExtendRequest,
  WireReservationExtendResponse,
  WireReservationListResponse,
  WireReservationSummary,
  WireSignedAmount,
  WireStandardMetrics,
  WireSubject,
} from './protocol/wire.ts';
export { createHttpAuthority, type HttpAuthorityOptions } from './remote/http-authority.ts';
export { createLazyAuthority } from './remote/lazy-authority.ts';
export { redisIdentity } from './remote/redis-from-env.ts';
export type { WebhookRetryPolicy } from './webhooks/retry-policy.ts';
export { signWebhookBody, verifyWebhookSignature } from './webhooks/signature.ts';
export { createWebhookSink, type WebhookSink, type WebhookSinkOptions } from './webhooks/webhook-sink.ts';
