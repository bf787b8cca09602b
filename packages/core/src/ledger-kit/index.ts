// @cycles-guard/core/ledger-kit: what a second ledger implementation (Redis, a server) needs to accept
// and refuse exactly what the memory ledger does: one validation path, one cursor codec, one set of
// typed refusals. Apps do not need it.

export {
  normalizeScope,
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
export { LedgerEventLog } from '../ledger/events/event-log.ts';
export {
  decodeEventCursor,
  encodeEventCursor,
  matchesEventQuery,
  pageOfEvents,
  type StoredEvent,
  validateEventQuery,
} from '../ledger/events/event-query.ts';
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
export { originOf } from '../ledger/events/memory-ledger-events.ts';
export {
  type DenialFacts,
  deniedDraft,
  denyDetailOf,
  expiredDraft,
  observedAllowedDraft,
  observedDeniedDraft,
  overageDraft,
  type ReservationFacts,
} from '../ledger/events/reservation-events.ts';
export { tooManyReservations } from '../ledger/ledger-errors.ts';
export { decodeCursor, page } from '../ledger/reservations.ts';
export {
  checkJsonValue,
  MAX_JSON_CHARS,
  MAX_JSON_DEPTH,
  validateBalancesQuery,
  validateListQuery,
} from '../protocol/validate.ts';
export { type WebhookRequest, webhookRequest } from '../webhooks/delivery-request.ts';
export { DEFAULT_RETRY_POLICY, retryDelayMs, retryPolicyOf } from '../webhooks/retry-policy.ts';
