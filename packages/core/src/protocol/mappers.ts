import { denyDetailOfError, fromWireDenyDetail, toWireDenyDetail } from './deny-detail.ts';
import { ErrorCode, PROTOCOL_ERROR_CODES, RESERVATION_STATUSES, type ReservationStatus } from './enums.ts';
import { CyclesError, ERROR_STATUS, errorForCode, InternalError, invalid } from './errors.ts';
import { fromWireObserveMode, toWireObserveMode } from './observe-mode.ts';
import { fromWirePolicyKeys, toWirePolicyKeys } from './policy-keys.ts';
import type {
  Action,
  Amount,
  Balance,
  BalancesQuery,
  BalancesResponse,
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
  ListReservationsQuery,
  ListReservationsResponse,
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
} from './types.ts';
import type {
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
  WireReservationExtendRequest,
  WireReservationExtendResponse,
  WireReservationListResponse,
  WireReservationSummary,
  WireSignedAmount,
  WireStandardMetrics,
  WireSubject,
} from './wire.ts';
import { namesApiField, toWireField, toWireMessage } from './wire-names.ts';

/*
 * Conversions between the camelCase API types and the snake_case wire types.
 *
 * Rules, both directions: every field is picked by name (unknown fields from a peer are dropped), and
 * absent values, `undefined` and `null` alike, are omitted rather than written, because the spec's
 * schemas are `additionalProperties: false` and strict peers reject nulls. Open maps (`metadata`,
 * `dimensions`, `custom`, `details`) are copied shallowly and verbatim.
 */

type Loose<T> = T | null | undefined;

/**
 * The object without keys whose value is `undefined` or `null`. Copies instead of `delete`, which
 * turns an object into a slow dictionary for everything that reads it afterwards (the ledger reads
 * each mapped request many times).
 */
function compact<T extends object>(object: T): T {
  const record = object as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.every((key) => record[key] !== undefined && record[key] !== null)) return object;
  const kept: Record<string, unknown> = {};
  for (const key of keys) {
    const value = record[key];
    if (value !== undefined && value !== null) kept[key] = value;
  }
  return kept as T;
}

/*
 * Mapping never throws on malformed input (a server maps a request body before validating it): a
 * nested value that is not an object is passed through unchanged, so the validators see the original
 * bad value and answer 400 INVALID_REQUEST instead of the mapper crashing into a 500.
 */

/** Maps a required nested object; anything else (including absence) passes through for validation. */
function req<A, B>(value: A, map: (value: A) => B): B {
  return typeof value === 'object' && value !== null ? map(value) : (value as unknown as B);
}

/** Maps an optional nested object; `null`/`undefined` become absent, non-objects pass through. */
function opt<A, B>(value: Loose<A>, map: (value: A) => B): B | undefined {
  return value === undefined || value === null ? undefined : req(value, map);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const copyMap = <V>(value: Record<string, V>): Record<string, V> => (isRecord(value) ? { ...value } : value);
const copyList = <V>(value: readonly V[]): V[] => (Array.isArray(value) ? [...value] : (value as V[]));
/** Maps each element of a list (elements that are not objects pass through). */
const mapList =
  <A, B>(map: (value: A) => B) =>
  (values: readonly A[]): B[] =>
    Array.isArray(values) ? values.map((value) => req(value, map)) : (values as unknown as B[]);

// ---- Shared objects ----

/** API `Amount` → wire `Amount`. */
export function toWireAmount(amount: Amount): WireAmount {
  return { unit: amount.unit, amount: amount.amount };
}

/** Wire `Amount` → API `Amount`. */
export function fromWireAmount(wire: WireAmount): Amount {
  return { unit: wire.unit, amount: wire.amount };
}

/** API `SignedAmount` → wire `SignedAmount`. */
export function toWireSignedAmount(amount: SignedAmount): WireSignedAmount {
  return { unit: amount.unit, amount: amount.amount };
}

/** Wire `SignedAmount` → API `SignedAmount`. */
export function fromWireSignedAmount(wire: WireSignedAmount): SignedAmount {
  return { unit: wire.unit, amount: wire.amount };
}

/** API `Subject` → wire `Subject` (field names are identical; absent levels are omitted). */
export function toWireSubject(subject: Subject): WireSubject {
  return compact({
    tenant: subject.tenant,
    workspace: subject.workspace,
    app: subject.app,
    workflow: subject.workflow,
    agent: subject.agent,
    toolset: subject.toolset,
    dimensions: opt(subject.dimensions, copyMap),
  });
}

/** Wire `Subject` → API `Subject`. */
export function fromWireSubject(wire: WireSubject): Subject {
  return toWireSubject(wire);
}

/** API `Action` → wire `Action`. */
export function toWireAction(action: Action): WireAction {
  return compact({
    kind: action.kind,
    name: action.name,
    tags: opt(action.tags, copyList),
    policy_keys: opt(action.policyKeys, toWirePolicyKeys),
  });
}

/** Wire `Action` → API `Action`. */
export function fromWireAction(wire: WireAction): Action {
  return compact({
    kind: wire.kind,
    name: wire.name,
    tags: opt(wire.tags, copyList),
    policyKeys: opt(wire.policy_keys, fromWirePolicyKeys),
  });
}

/** API `Caps` → wire `Caps`. */
export function toWireCaps(caps: Caps): WireCaps {
  return compact({
    max_tokens: caps.maxTokens,
    max_steps_remaining: caps.maxStepsRemaining,
    tool_allowlist: opt(caps.toolAllowlist, copyList),
    tool_denylist: opt(caps.toolDenylist, copyList),
    cooldown_ms: caps.cooldownMs,
  });
}

/** Wire `Caps` → API `Caps`. */
export function fromWireCaps(wire: WireCaps): Caps {
  return compact({
    maxTokens: wire.max_tokens,
    maxStepsRemaining: wire.max_steps_remaining,
    toolAllowlist: opt(wire.tool_allowlist, copyList),
    toolDenylist: opt(wire.tool_denylist, copyList),
    cooldownMs: wire.cooldown_ms,
  });
}

/** API `StandardMetrics` → wire `StandardMetrics`. */
export function toWireStandardMetrics(metrics: StandardMetrics): WireStandardMetrics {
  return compact({
    tokens_input: metrics.tokensInput,
    tokens_output: metrics.tokensOutput,
    latency_ms: metrics.latencyMs,
    model_version: metrics.modelVersion,
    custom: opt(metrics.custom, copyMap),
  });
}

/** Wire `StandardMetrics` → API `StandardMetrics`. */
export function fromWireStandardMetrics(wire: WireStandardMetrics): StandardMetrics {
  return compact({
    tokensInput: wire.tokens_input,
    tokensOutput: wire.tokens_output,
    latencyMs: wire.latency_ms,
    modelVersion: wire.model_version,
    custom: opt(wire.custom, copyMap),
  });
}

/**
 * API `EvidenceRef` → wire `CyclesEvidenceRef`, or `undefined` when the reference has no URL: the spec
 * requires both fields, so a URL-less reference is left off the wire rather than sent invalid.
 */
export function toWireEvidenceRef(ref: EvidenceRef): WireCyclesEvidenceRef | undefined {
  if (ref.cyclesEvidenceUrl === undefined || ref.cyclesEvidenceUrl === null) return undefined;
  return { evidence_id: ref.evidenceId, cycles_evidence_url: ref.cyclesEvidenceUrl };
}

/** Wire `CyclesEvidenceRef` → API `EvidenceRef`. */
export function fromWireEvidenceRef(wire: WireCyclesEvidenceRef): EvidenceRef {
  return compact({ evidenceId: wire.evidence_id, cyclesEvidenceUrl: wire.cycles_evidence_url });
}

/** API `Balance` → wire `Balance`. */
export function toWireBalance(balance: Balance): WireBalance {
  return compact({
    scope: balance.scope,
    scope_path: balance.scopePath,
    remaining: req(balance.remaining, toWireSignedAmount),
    reserved: opt(balance.reserved, toWireAmount),
    spent: opt(balance.spent, toWireAmount),
    debt: opt(balance.debt, toWireAmount),
    allocated: opt(balance.allocated, toWireAmount),
    overdraft_limit: opt(balance.overdraftLimit, toWireAmount),
    is_over_limit: balance.isOverLimit,
  });
}

/** Wire `Balance` → API `Balance`. */
export function fromWireBalance(wire: WireBalance): Balance {
  return compact({
    scope: wire.scope,
    scopePath: wire.scope_path,
    remaining: req(wire.remaining, fromWireSignedAmount),
    reserved: opt(wire.reserved, fromWireAmount),
    spent: opt(wire.spent, fromWireAmount),
    debt: opt(wire.debt, fromWireAmount),
    allocated: opt(wire.allocated, fromWireAmount),
    overdraftLimit: opt(wire.overdraft_limit, fromWireAmount),
    isOverLimit: wire.is_over_limit,
  });
}

const toWireBalances = mapList(toWireBalance);
const fromWireBalances = mapList(fromWireBalance);

// ---- Reserve ----

/** API `ReserveRequest` → `ReservationCreateRequest`. The `minimum` extension is never sent. */
export function toWireReserveRequest(request: ReserveRequest): WireReservationCreateRequest {
  return compact({
    idempotency_key: request.idempotencyKey,
    subject: req(request.subject, toWireSubject),
    action: req(request.action, toWireAction),
    estimate: req(request.estimate, toWireAmount),
    ttl_ms: request.ttlMs,
    grace_period_ms: request.gracePeriodMs,
    overage_policy: request.overagePolicy,
    dry_run: request.dryRun,
    observe_mode: toWireObserveMode(request.observeMode),
    metadata: opt(request.metadata, copyMap),
  });
}

/** `ReservationCreateRequest` → API `ReserveRequest`. */
export function fromWireReserveRequest(wire: WireReservationCreateRequest): ReserveRequest {
  return compact({
    idempotencyKey: wire.idempotency_key,
    subject: req(wire.subject, fromWireSubject),
    action: req(wire.action, fromWireAction),
    estimate: req(wire.estimate, fromWireAmount),
    ttlMs: wire.ttl_ms,
    gracePeriodMs: wire.grace_period_ms,
    overagePolicy: wire.overage_policy,
    dryRun: wire.dry_run,
    observeMode: fromWireObserveMode(wire.observe_mode),
    metadata: opt(wire.metadata, copyMap),
  });
}

/** API `ReserveResponse` → `ReservationCreateResponse`. The `partial` extension is never sent. */
export function toWireReserveResponse(response: ReserveResponse): WireReservationCreateResponse {
  return compact({
    decision: response.decision,
    affected_scopes: req(response.affectedScopes, copyList),
    reservation_id: response.reservationId,
    reserved: opt(response.reserved, toWireAmount),
    expires_at_ms: response.expiresAtMs,
    remaining_ttl_ms: response.remainingTtlMs,
    scope_path: response.scopePath,
    caps: opt(response.caps, toWireCaps),
    balances: opt(response.balances, toWireBalances),
    reason_code: response.reasonCode,
    retry_after_ms: response.retryAfterMs,
    cycles_evidence: opt(response.cyclesEvidence, toWireEvidenceRef),
    deny_detail: opt(response.denyDetail, toWireDenyDetail),
  });
}

/** `ReservationCreateResponse` → API `ReserveResponse` (never sets `partial`). */
export function fromWireReserveResponse(wire: WireReservationCreateResponse): ReserveResponse {
  return compact({
    decision: wire.decision,
    // Required by the spec, but a lenient reader should not crash on an old or sloppy server.
    affectedScopes: req(wire.affected_scopes, copyList) ?? [],
    reservationId: wire.reservation_id,
    reserved: opt(wire.reserved, fromWireAmount),
    expiresAtMs: wire.expires_at_ms,
    remainingTtlMs: wire.remaining_ttl_ms,
    scopePath: wire.scope_path,
    caps: opt(wire.caps, fromWireCaps),
    balances: opt(wire.balances, fromWireBalances),
    reasonCode: wire.reason_code,
    retryAfterMs: wire.retry_after_ms,
    cyclesEvidence: opt(wire.cycles_evidence, fromWireEvidenceRef),
    denyDetail: opt(wire.deny_detail, fromWireDenyDetail),
  });
}

// ---- Commit, release, extend ----

/** API `CommitRequest` → wire `CommitRequest`. */
export function toWireCommitRequest(request: CommitRequest): WireCommitRequest {
  return compact({
    idempotency_key: request.idempotencyKey,
    actual: req(request.actual, toWireAmount),
    metrics: opt(request.metrics, toWireStandardMetrics),
    metadata: opt(request.metadata, copyMap),
  });
}

/** Wire `CommitRequest` → API `CommitRequest`. */
export function fromWireCommitRequest(wire: WireCommitRequest): CommitRequest {
  return compact({
    idempotencyKey: wire.idempotency_key,
    actual: req(wire.actual, fromWireAmount),
    metrics: opt(wire.metrics, fromWireStandardMetrics),
    metadata: opt(wire.metadata, copyMap),
  });
}

/** API `CommitResponse` → wire `CommitResponse`. */
export function toWireCommitResponse(response: CommitResponse): WireCommitResponse {
  return compact({
    status: response.status,
    charged: req(response.charged, toWireAmount),
    released: opt(response.released, toWireAmount),
    balances: opt(response.balances, toWireBalances),
    cycles_evidence: opt(response.cyclesEvidence, toWireEvidenceRef),
  });
}

/** Wire `CommitResponse` → API `CommitResponse`. */
export function fromWireCommitResponse(wire: WireCommitResponse): CommitResponse {
  return compact({
    status: wire.status,
    charged: req(wire.charged, fromWireAmount),
    released: opt(wire.released, fromWireAmount),
    balances: opt(wire.balances, fromWireBalances),
    cyclesEvidence: opt(wire.cycles_evidence, fromWireEvidenceRef),
  });
}

/** API `ReleaseRequest` → wire `ReleaseRequest`. */
export function toWireReleaseRequest(request: ReleaseRequest): WireReleaseRequest {
  return compact({ idempotency_key: request.idempotencyKey, reason: request.reason });
}

/** Wire `ReleaseRequest` → API `ReleaseRequest`. */
export function fromWireReleaseRequest(wire: WireReleaseRequest): ReleaseRequest {
  return compact({ idempotencyKey: wire.idempotency_key, reason: wire.reason });
}

/** API `ReleaseResponse` → wire `ReleaseResponse`. */
export function toWireReleaseResponse(response: ReleaseResponse): WireReleaseResponse {
  return compact({
    status: response.status,
    released: req(response.released, toWireAmount),
    balances: opt(response.balances, toWireBalances),
    cycles_evidence: opt(response.cyclesEvidence, toWireEvidenceRef),
  });
}

/** Wire `ReleaseResponse` → API `ReleaseResponse`. */
export function fromWireReleaseResponse(wire: WireReleaseResponse): ReleaseResponse {
  return compact({
    status: wire.status,
    released: req(wire.released, fromWireAmount),
    balances: opt(wire.balances, fromWireBalances),
    cyclesEvidence: opt(wire.cycles_evidence, fromWireEvidenceRef),
  });
}

/** API `ExtendRequest` → `ReservationExtendRequest`. */
export function toWireExtendRequest(request: ExtendRequest): WireReservationExtendRequest {
  return compact({
    idempotency_key: request.idempotencyKey,
    extend_by_ms: request.extendByMs,
    metadata: opt(request.metadata, copyMap),
  });
}

/** `ReservationExtendRequest` → API `ExtendRequest`. */
export function fromWireExtendRequest(wire: WireReservationExtendRequest): ExtendRequest {
  return compact({
    idempotencyKey: wire.idempotency_key,
    extendByMs: wire.extend_by_ms,
    metadata: opt(wire.metadata, copyMap),
  });
}

/** API `ExtendResponse` → `ReservationExtendResponse`. */
export function toWireExtendResponse(response: ExtendResponse): WireReservationExtendResponse {
  return compact({
    status: response.status,
    expires_at_ms: response.expiresAtMs,
    remaining_ttl_ms: response.remainingTtlMs,
    balances: opt(response.balances, toWireBalances),
  });
}

/** `ReservationExtendResponse` → API `ExtendResponse`. */
export function fromWireExtendResponse(wire: WireReservationExtendResponse): ExtendResponse {
  return compact({
    status: wire.status,
    expiresAtMs: wire.expires_at_ms,
    remainingTtlMs: wire.remaining_ttl_ms,
    balances: opt(wire.balances, fromWireBalances),
  });
}

// ---- Decide, events ----

/** API `DecideRequest` → `DecisionRequest`. */
export function toWireDecideRequest(request: DecideRequest): WireDecisionRequest {
  return compact({
    idempotency_key: request.idempotencyKey,
    subject: req(request.subject, toWireSubject),
    action: req(request.action, toWireAction),
    estimate: req(request.estimate, toWireAmount),
    metadata: opt(request.metadata, copyMap),
  });
}

/** `DecisionRequest` → API `DecideRequest`. */
export function fromWireDecideRequest(wire: WireDecisionRequest): DecideRequest {
  return compact({
    idempotencyKey: wire.idempotency_key,
    subject: req(wire.subject, fromWireSubject),
    action: req(wire.action, fromWireAction),
    estimate: req(wire.estimate, fromWireAmount),
    metadata: opt(wire.metadata, copyMap),
  });
}

/** API `DecideResponse` → `DecisionResponse`. */
export function toWireDecideResponse(response: DecideResponse): WireDecisionResponse {
  return compact({
    decision: response.decision,
    caps: opt(response.caps, toWireCaps),
    reason_code: response.reasonCode,
    retry_after_ms: response.retryAfterMs,
    affected_scopes: opt(response.affectedScopes, copyList),
    cycles_evidence: opt(response.cyclesEvidence, toWireEvidenceRef),
    deny_detail: opt(response.denyDetail, toWireDenyDetail),
  });
}

/** `DecisionResponse` → API `DecideResponse`. */
export function fromWireDecideResponse(wire: WireDecisionResponse): DecideResponse {
  return compact({
    decision: wire.decision,
    caps: opt(wire.caps, fromWireCaps),
    reasonCode: wire.reason_code,
    retryAfterMs: wire.retry_after_ms,
    affectedScopes: opt(wire.affected_scopes, copyList),
    cyclesEvidence: opt(wire.cycles_evidence, fromWireEvidenceRef),
    denyDetail: opt(wire.deny_detail, fromWireDenyDetail),
  });
}

/** API `EventRequest` → `EventCreateRequest`. */
export function toWireEventRequest(request: EventRequest): WireEventCreateRequest {
  return compact({
    idempotency_key: request.idempotencyKey,
    subject: req(request.subject, toWireSubject),
    action: req(request.action, toWireAction),
    actual: req(request.actual, toWireAmount),
    overage_policy: request.overagePolicy,
    metrics: opt(request.metrics, toWireStandardMetrics),
    client_time_ms: request.clientTimeMs,
    metadata: opt(request.metadata, copyMap),
  });
}

/** `EventCreateRequest` → API `EventRequest`. */
export function fromWireEventRequest(wire: WireEventCreateRequest): EventRequest {
  return compact({
    idempotencyKey: wire.idempotency_key,
    subject: req(wire.subject, fromWireSubject),
    action: req(wire.action, fromWireAction),
    actual: req(wire.actual, fromWireAmount),
    overagePolicy: wire.overage_policy,
    metrics: opt(wire.metrics, fromWireStandardMetrics),
    clientTimeMs: wire.client_time_ms,
    metadata: opt(wire.metadata, copyMap),
  });
}

/** API `EventResponse` → `EventCreateResponse`. */
export function toWireEventResponse(response: EventResponse): WireEventCreateResponse {
  return compact({
    status: response.status,
    event_id: response.eventId,
    charged: opt(response.charged, toWireAmount),
    balances: opt(response.balances, toWireBalances),
  });
}

/** `EventCreateResponse` → API `EventResponse`. */
export function fromWireEventResponse(wire: WireEventCreateResponse): EventResponse {
  return compact({
    status: wire.status,
    eventId: wire.event_id,
    charged: opt(wire.charged, fromWireAmount),
    balances: opt(wire.balances, fromWireBalances),
  });
}

// ---- Queries: balances and reservations ----

/** API `BalancesResponse` → `BalanceResponse`. */
export function toWireBalancesResponse(response: BalancesResponse): WireBalanceResponse {
  return compact({
    balances: req(response.balances, toWireBalances),
    next_cursor: response.nextCursor,
    has_more: response.hasMore,
  });
}

/** `BalanceResponse` → API `BalancesResponse`. */
export function fromWireBalancesResponse(wire: WireBalanceResponse): BalancesResponse {
  return compact({
    balances: opt(wire.balances, fromWireBalances) ?? [],
    nextCursor: wire.next_cursor,
    hasMore: wire.has_more,
  });
}

/** API `ReservationDetail` → wire `ReservationDetail`. */
export function toWireReservationDetail(detail: ReservationDetail): WireReservationDetail {
  return compact({
    reservation_id: detail.reservationId,
    status: detail.status,
    idempotency_key: detail.idempotencyKey,
    subject: req(detail.subject, toWireSubject),
    action: req(detail.action, toWireAction),
    reserved: req(detail.reserved, toWireAmount),
    committed: opt(detail.committed, toWireAmount),
    created_at_ms: detail.createdAtMs,
    expires_at_ms: detail.expiresAtMs,
    finalized_at_ms: detail.finalizedAtMs,
    scope_path: detail.scopePath,
    affected_scopes: req(detail.affectedScopes, copyList),
    metadata: opt(detail.metadata, copyMap),
    committed_metadata: opt(detail.committedMetadata, copyMap),
  });
}

/** Wire `ReservationDetail` → API `ReservationDetail` (`evidence` is dropped: the API has no field). */
export function fromWireReservationDetail(wire: WireReservationDetail): ReservationDetail {
  return compact({
    reservationId: wire.reservation_id,
    status: wire.status,
    idempotencyKey: wire.idempotency_key,
    subject: req(wire.subject, fromWireSubject),
    action: req(wire.action, fromWireAction),
    reserved: req(wire.reserved, fromWireAmount),
    committed: opt(wire.committed, fromWireAmount),
    createdAtMs: wire.created_at_ms,
    expiresAtMs: wire.expires_at_ms,
    finalizedAtMs: wire.finalized_at_ms,
    scopePath: wire.scope_path,
    affectedScopes: req(wire.affected_scopes, copyList) ?? [],
    metadata: opt(wire.metadata, copyMap),
    committedMetadata: opt(wire.committed_metadata, copyMap),
  });
}

/** API `ReservationSummary` → wire `ReservationSummary` (projection by `include` is the caller's job). */
export function toWireReservationSummary(summary: ReservationSummary): WireReservationSummary {
  return toWireReservationDetail(summary);
}

/** Wire `ReservationSummary` → API `ReservationSummary`. */
export function fromWireReservationSummary(wire: WireReservationSummary): ReservationSummary {
  return fromWireReservationDetail(wire);
}

/** API `ListReservationsResponse` → `ReservationListResponse`. */
export function toWireListReservationsResponse(
  response: ListReservationsResponse,
): WireReservationListResponse {
  return compact({
    reservations: req(response.reservations, mapList(toWireReservationSummary)),
    next_cursor: response.nextCursor,
    has_more: response.hasMore,
  });
}

/** `ReservationListResponse` → API `ListReservationsResponse`. */
export function fromWireListReservationsResponse(
  wire: WireReservationListResponse,
): ListReservationsResponse {
  return compact({
    reservations: opt(wire.reservations, mapList(fromWireReservationSummary)) ?? [],
    nextCursor: wire.next_cursor,
    hasMore: wire.has_more,
  });
}

// ---- Errors ----

const WIRE_ERROR_CODES: ReadonlySet<string> = new Set(PROTOCOL_ERROR_CODES);
const TRACE_ID = /^[0-9a-f]{32}$/;

/** Our extension codes have no wire form: each is sent as the nearest protocol code. */
function wireCodeFor(code: ErrorCode): WireErrorCode {
  switch (code) {
    case ErrorCode.MODEL_NOT_PRICED:
      return ErrorCode.INVALID_REQUEST;
    case ErrorCode.AUTHORITY_UNAVAILABLE:
    case ErrorCode.INVALID_CONFIG:
      return ErrorCode.INTERNAL_ERROR;
    default:
      return code;
  }
}

/**
 * Turns a protocol server's error body into the typed `CyclesError` for its code. A body that is not an
 * `ErrorResponse`, or carries a code this version does not know, becomes an `InternalError` that keeps
 * the server's message and records the raw code and HTTP status in `details`.
 *
 * @param body the parsed JSON body (anything; proxies send HTML and empty bodies too)
 * @param status the HTTP status, used only when the code is unknown
 * @param options values the caller parsed from headers, e.g. `Retry-After` in ms
 */
export function fromWireErrorResponse(
  body: unknown,
  status: number,
  options: { retryAfterMs?: number } = {},
): CyclesError {
  const wire = isRecord(body) ? body : {};
  const code = typeof wire.error === 'string' ? wire.error : undefined;
  const message =
    typeof wire.message === 'string' && wire.message !== ''
      ? wire.message
      : `Cycles server answered HTTP ${status}`;
  const details = isRecord(wire.details) ? { ...wire.details } : undefined;
  const errorOptions = compact({ details, retryAfterMs: options.retryAfterMs });
  if (code !== undefined && WIRE_ERROR_CODES.has(code)) {
    return errorForCode(code as WireErrorCode, message, errorOptions);
  }
  return new InternalError(message, {
    ...errorOptions,
    details: compact({ ...details, wireError: code, httpStatus: status }),
  });
}

/**
 * The `ErrorResponse` body for any thrown value. A `CyclesError` keeps its message and details (an
 * extension code is sent as the nearest protocol code, recorded in `details.code`); anything else is
 * sent as a bare INTERNAL_ERROR so internals never leak.
 *
 * @param traceId 32 lowercase hex chars; malformed values are left off (the schema would reject them)
 */
export function toWireErrorResponse(error: unknown, requestId: string, traceId?: string): WireErrorResponse {
  const traceField = traceId !== undefined && TRACE_ID.test(traceId) ? traceId : undefined;
  if (!CyclesError.isInstance(error)) {
    return compact({
      error: ErrorCode.INTERNAL_ERROR,
      message: 'Internal error',
      request_id: requestId,
      trace_id: traceField,
    });
  }
  const wireCode = wireCodeFor(error.code);
  let details =
    wireCode === error.code ? opt(error.details, copyMap) : { ...error.details, code: error.code as string };
  // Core names fields as its API does (camelCase); the wire names them as the protocol does.
  const field = namesApiField(error) ? details?.field : undefined;
  const wireField = typeof field === 'string' ? toWireField(field) : undefined;
  if (wireField !== undefined && wireField !== field) details = { ...details, field: wireField };
  const denyDetail = denyDetailOfError(error.code, error.details);
  if (denyDetail !== undefined) details = { ...details, deny_detail: denyDetail };
  return compact({
    error: wireCode,
    message: typeof field === 'string' ? toWireMessage(error.message, field) : error.message,
    request_id: requestId,
    trace_id: traceField,
    details,
  });
}

/**
 * The HTTP status to send with `toWireErrorResponse(error, ...)`: the error's own status (subclasses may
 * override it, e.g. a 409 duplicate ledger), or that of the protocol code an extension code is sent as.
 */
export function wireErrorStatus(error: unknown): number {
  if (!CyclesError.isInstance(error)) return ERROR_STATUS.INTERNAL_ERROR;
  const wireCode = wireCodeFor(error.code);
  return wireCode === error.code ? error.status : ERROR_STATUS[wireCode];
}

// ---- Query strings ----

const SUBJECT_PARAMS = ['tenant', 'workspace', 'app', 'workflow', 'agent', 'toolset'] as const;
const SORT_KEYS: readonly ReservationSortKey[] = [
  'reservation_id',
  'tenant',
  'scope_path',
  'status',
  'reserved',
  'created_at_ms',
  'expires_at_ms',
];
// RFC 3339 date-time (the spec's `format: date-time`); Date.parse alone would accept far looser text.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Window parameters of `GET /v1/reservations` and the API field each binds to. */
const WINDOW_PARAMS = [
  ['from', 'fromMs'],
  ['to', 'toMs'],
  ['expires_from', 'expiresFromMs'],
  ['expires_to', 'expiresToMs'],
  ['finalized_from', 'finalizedFromMs'],
  ['finalized_to', 'finalizedToMs'],
] as const;

/** A parameter's value; blank counts as unset (normative for list windows, harmless elsewhere). */
function param(params: URLSearchParams, name: string): string | undefined {
  const value = params.get(name);
  return value === null || value.trim() === '' ? undefined : value;
}

function parseInteger(params: URLSearchParams, name: string): number | undefined {
  const value = param(params, name);
  if (value === undefined) return undefined;
  const number = Number(value.trim());
  if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(number))
    throw invalid(name, 'must be an integer');
  return number;
}

function parseBoolean(params: URLSearchParams, name: string): boolean | undefined {
  const value = param(params, name)?.trim().toLowerCase();
  if (value === undefined) return undefined;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw invalid(name, 'must be true or false');
}

function parseDateTime(params: URLSearchParams, name: string): number | undefined {
  const value = param(params, name)?.trim();
  if (value === undefined) return undefined;
  const ms = DATE_TIME.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw invalid(name, 'must be an ISO 8601 date-time', 'e.g. 2026-01-31T12:00:00Z');
  return ms;
}

function parseEnum<T extends string>(
  params: URLSearchParams,
  name: string,
  values: readonly T[],
): T | undefined {
  const value = param(params, name);
  if (value === undefined) return undefined;
  if (!(values as readonly string[]).includes(value))
    throw invalid(name, `must be one of ${values.join(', ')}`);
  return value as T;
}

function setIfPresent(params: URLSearchParams, name: string, value: Loose<string | number | boolean>): void {
  if (value !== undefined && value !== null) params.set(name, String(value));
}

function appendSubjectParams(
  params: URLSearchParams,
  query: Partial<Record<(typeof SUBJECT_PARAMS)[number], string>>,
) {
  for (const level of SUBJECT_PARAMS) setIfPresent(params, level, query[level]);
}

function readSubjectParams(
  params: URLSearchParams,
): Partial<Record<(typeof SUBJECT_PARAMS)[number], string>> {
  const levels: Partial<Record<(typeof SUBJECT_PARAMS)[number], string>> = {};
  for (const level of SUBJECT_PARAMS) {
    const value = param(params, level);
    if (value !== undefined) levels[level] = value;
  }
  return levels;
}

/** A window bound as an RFC 3339 UTC date-time; years outside 0000–9999 have no such form. */
function isoDateTime(ms: number | undefined, name: string): string | undefined {
  if (ms === undefined || ms === null) return undefined;
  const text = Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : '';
  if (!DATE_TIME.test(text)) throw invalid(name, 'must be a time between the years 0000 and 9999');
  return text;
}

/** The query string of `GET /v1/balances` for an API `BalancesQuery`. */
export function toBalancesQueryParams(query: BalancesQuery): URLSearchParams {
  const params = new URLSearchParams();
  appendSubjectParams(params, query);
  setIfPresent(params, 'include_children', query.includeChildren);
  setIfPresent(params, 'limit', query.limit);
  setIfPresent(params, 'cursor', query.cursor);
  return params;
}

/**
 * Parses the query string of `GET /v1/balances`. Throws `InvalidRequestError` for values that do not
 * parse; range rules (limit 1–200, at least one subject filter) are `validateBalancesQuery`'s job.
 */
export function fromBalancesQueryParams(params: URLSearchParams): BalancesQuery {
  return compact({
    ...readSubjectParams(params),
    includeChildren: parseBoolean(params, 'include_children'),
    limit: parseInteger(params, 'limit'),
    cursor: param(params, 'cursor'),
  });
}

/** The query string of `GET /v1/reservations`; time windows are sent as ISO 8601 UTC date-times. */
export function toListReservationsQueryParams(query: ListReservationsQuery): URLSearchParams {
  const params = new URLSearchParams();
  setIfPresent(params, 'idempotency_key', query.idempotencyKey);
  setIfPresent(params, 'status', query.status);
  appendSubjectParams(params, query);
  for (const [name, field] of WINDOW_PARAMS) {
    setIfPresent(params, name, isoDateTime(query[field], name));
  }
  setIfPresent(params, 'sort_by', query.sortBy);
  setIfPresent(params, 'sort_dir', query.sortDir);
  // `style: form, explode: false`: one comma-separated value.
  if (query.include !== undefined && query.include.length > 0) params.set('include', query.include.join(','));
  setIfPresent(params, 'limit', query.limit);
  setIfPresent(params, 'cursor', query.cursor);
  return params;
}

/**
 * Parses the query string of `GET /v1/reservations`. Blank values are unset; time windows must be
 * RFC 3339 date-times (→ ms); `include` tokens are split on commas, trimmed and de-duplicated (unknown
 * tokens are kept for the authority to ignore). Throws `InvalidRequestError` for values that do not
 * parse; cross-field rules (`from ≤ to`, limit range) are `validateListQuery`'s job.
 */
export function fromListReservationsQueryParams(params: URLSearchParams): ListReservationsQuery {
  const query: ListReservationsQuery = compact({
    idempotencyKey: param(params, 'idempotency_key'),
    status: parseEnum<ReservationStatus>(params, 'status', RESERVATION_STATUSES),
    ...readSubjectParams(params),
    sortBy: parseEnum(params, 'sort_by', SORT_KEYS),
    sortDir: parseEnum(params, 'sort_dir', ['asc', 'desc'] as const),
    limit: parseInteger(params, 'limit'),
    cursor: param(params, 'cursor'),
  });
  for (const [name, field] of WINDOW_PARAMS) {
    const ms = parseDateTime(params, name);
    if (ms !== undefined) query[field] = ms;
  }
  // Accept the exploded form (`include=a&include=b`) too: clients differ.
  const include = [
    ...new Set(
      params
        .getAll('include')
        .flatMap((value) => value.split(','))
        .map((token) => token.trim())
        .filter((token) => token !== ''),
    ),
  ];
  if (include.length > 0) query.include = include;
  return query;
}
