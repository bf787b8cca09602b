// @cycles-guard/core/ledger-kit: what a second ledger implementation (Redis, a server) needs to accept,
// refuse and answer exactly as the memory ledger does, which runs the same functions: one validation
// path, one payload fingerprint per operation, one set of query, paging and balance rules, one tenant
// guard, one set of option defaults and typed refusals. Apps do not need it.

// ---- clock, config files, remote ledgers ----
export { type Clock, systemClock } from '../clock.ts';
export { type LedgerConfig, parseLedgerConfig, readConfigFile } from '../ledger/config-file.ts';
// ---- validation (before anything changes) ----
export {
  normalizeScope,
  validateClosingSettings,
  validateDefinition,
  validateTemplate,
  validateTenantSettings,
} from '../ledger/definitions.ts';
export {
  type BalanceChange,
  balanceChangeDrafts,
  publishBalanceChanges,
  type ScopeStates,
} from '../ledger/events/balance-changes.ts';
// Protocol events: one derivation and one pipeline for every ledger, plus the webhook wire format.
export {
  type BalanceCause,
  DEFAULT_THRESHOLDS,
  deriveBalanceEvents,
  initialState,
  type ScopeBalance,
  type ScopeEventState,
  utilizationOf,
} from '../ledger/events/balance-events.ts';
// ---- event store ----
export type { BurnSpend } from '../ledger/events/burn-rate.ts';
export type { LedgerEvents, ProtocolEventListener, RateCounter } from '../ledger/events/event-log.ts';
export { LedgerEventLog } from '../ledger/events/event-log.ts';
export type { EventPage, EventQuery } from '../ledger/events/event-query.ts';
export {
  decodeEventCursor,
  encodeEventCursor,
  matchesEventQuery,
  pageOfEvents,
  type StoredEvent,
  validateEventQuery,
} from '../ledger/events/event-query.ts';
export type { EventStore } from '../ledger/events/event-store.ts';
export {
  categoryOf,
  EVENT_CATEGORIES,
  EVENT_TYPES,
  type EventActor,
  type EventDraft,
  type EventOrigin,
  SYSTEM_TENANT,
  TENANT_CATEGORIES,
  tenantOfScope,
} from '../ledger/events/event-types.ts';
export { MemoryEventStore, type MemoryEventStoreOptions } from '../ledger/events/memory-event-store.ts';
export { balanceOfRow, originOf } from '../ledger/events/memory-ledger-events.ts';
export {
  type DenialFacts,
  deniedDraft,
  expiredDraft,
  observedAllowedDraft,
  observedDeniedDraft,
  overageDraft,
  type ReservationFacts,
} from '../ledger/events/reservation-events.ts';
// ---- idempotency: canonical payloads and their fingerprints ----
export { canonicalJson } from '../ledger/idempotency.ts';
export { tooManyReservations } from '../ledger/ledger-errors.ts';
export { capsSet } from '../ledger/ledger-row.ts';
export {
  commitFingerprint,
  decideFingerprint,
  eventFingerprint,
  extendFingerprint,
  fundingFingerprint,
  releaseFingerprint,
  reserveFingerprint,
} from '../ledger/payloads.ts';
export * as refusals from '../ledger/refusals.ts';
// ---- refusals: every error a ledger throws, worded once (`refusals.budgetExceeded(...)`) ----
export { DuplicateLedgerError, LedgerInUseError } from '../ledger/refusals.ts';
export { type TemplateLimit, templateLimitError } from '../ledger/template-census.ts';
export { windowBounds } from '../ledger/windows.ts';
// ---- settlement outbox: entry codec and stores ----
export {
  isEntryKey as isOutboxKey,
  type OutboxEntry,
  parseEntry as parseOutboxEntry,
} from '../lifecycle/outbox/entry.ts';
export { createFileJournal } from '../lifecycle/outbox/file-journal.ts';
export type { SettlementStore } from '../lifecycle/outbox/store.ts';
export { denyDetailOf } from '../protocol/deny-detail.ts';
// ---- scopes, windows, caps ----
export { affectedScopes, leafSegment, scopeTenant } from '../protocol/scopes.ts';
export {
  checkJsonValue,
  MAX_JSON_CHARS,
  MAX_JSON_DEPTH,
  validateBalancesQuery,
  validateCommit,
  validateDecide,
  validateEvent,
  validateExtend,
  validateListQuery,
  validateRelease,
  validateReservationId,
  validateReserve,
} from '../protocol/validate.ts';
export { validateInput } from '../protocol/validate-input.ts';
export { createLazyAuthority } from '../remote/lazy-authority.ts';
export { type LedgerScheme, registerLedgerScheme } from '../remote/ledger-schemes.ts';
// ---- spend reports over HTTP ----
export { parseSpendReportQuery, SPEND_GROUPS, type SpendBucket } from '../reports/index.ts';
export { type WebhookRequest, webhookRequest } from '../webhooks/delivery-request.ts';
export { DEFAULT_RETRY_POLICY, retryDelayMs, retryPolicyOf } from '../webhooks/retry-policy.ts';
// ---- wrappers (metrics, recording) around a ledger ----
export { type BoundMethod, wrapMethods } from '../wrap-methods.ts';
// ---- reads: balances, reservations, paging ----
export {
  type BalanceCounters,
  balanceSelected,
  balancesPage,
  toBalance,
  wantedSegments,
} from './balances.ts';
export { countOption, LEDGER_DEFAULTS, type TemplateBounds, templateBounds } from './options.ts';
export { compareText, decodeCursor, page } from './paging.ts';
export {
  queryReservations,
  type ReservationFields,
  type ReservationNaming,
  reservationDetail,
  type StoredReservation,
  storedNaming,
} from './reservation-query.ts';
// ---- tenancy, options, refusals ----
export { guardQueriedTenant, guardSubject } from './tenant-guard.ts';
