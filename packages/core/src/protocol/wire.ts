import type { WireDenyDetail } from './deny-detail.ts';
import type { Decision, ErrorCode, OveragePolicy, ReasonCode, ReservationStatus, Unit } from './enums.ts';
import type { WireObserveMode } from './observe-mode.ts';
import type { WireActionPolicyKeys } from './policy-keys.ts';

/**
 * The wire (snake_case JSON) form of the Cycles protocol v0.1.25 runtime objects, one interface per
 * `components.schemas` entry of `cycles-protocol-v0.yaml`. Every schema here has
 * `additionalProperties: false`, so a wire object must carry exactly these fields and never `null`.
 * `mappers.ts` converts to and from the camelCase API types in `types.ts`.
 */

/** `Amount`: an integer ≥ 0 in one unit. */
export interface WireAmount {
  unit: Unit;
  amount: number;
}

/** `SignedAmount`: like `Amount` but may be negative (only `Balance.remaining`). */
export interface WireSignedAmount {
  unit: Unit;
  amount: number;
}

/** `Subject`: at least one standard level; `dimensions` ≤ 16 string entries. */
export interface WireSubject {
  tenant?: string;
  workspace?: string;
  app?: string;
  workflow?: string;
  agent?: string;
  toolset?: string;
  dimensions?: Record<string, string>;
}

/** `Action`: `kind` ≤ 64, `name` ≤ 256, ≤ 10 `tags`. */
export interface WireAction {
  kind: string;
  name: string;
  tags?: string[];
  /** v0.1.26 (`ActionPolicyKeys`). */
  policy_keys?: WireActionPolicyKeys;
}

/** `Caps`: soft limits returned with ALLOW_WITH_CAPS. */
export interface WireCaps {
  max_tokens?: number;
  max_steps_remaining?: number;
  tool_allowlist?: string[];
  tool_denylist?: string[];
  cooldown_ms?: number;
}

/** `StandardMetrics`: optional usage figures on commit and event. */
export interface WireStandardMetrics {
  tokens_input?: number;
  tokens_output?: number;
  latency_ms?: number;
  model_version?: string;
  custom?: Record<string, unknown>;
}

/** `CyclesEvidenceRef`: both fields are required by the spec. */
export interface WireCyclesEvidenceRef {
  /** 64 lowercase hex chars. */
  evidence_id: string;
  /** Absolute URL of the signed envelope. */
  cycles_evidence_url: string;
}

/** `ReservationEvidence`: evidence references of a reservation's operations, keyed by artifact type. */
export interface WireReservationEvidence {
  reserve?: WireCyclesEvidenceRef;
  commit?: WireCyclesEvidenceRef;
  release?: WireCyclesEvidenceRef;
}

/** `Balance`: one (scope, unit) ledger; all amounts share one unit. */
export interface WireBalance {
  scope: string;
  scope_path: string;
  remaining: WireSignedAmount;
  reserved?: WireAmount;
  spent?: WireAmount;
  debt?: WireAmount;
  allocated?: WireAmount;
  overdraft_limit?: WireAmount;
  /** Absent means false. */
  is_over_limit?: boolean;
}

/** `ReservationCreateRequest` (`POST /v1/reservations`). */
export interface WireReservationCreateRequest {
  idempotency_key: string;
  subject: WireSubject;
  action: WireAction;
  estimate: WireAmount;
  ttl_ms?: number;
  grace_period_ms?: number;
  overage_policy?: OveragePolicy;
  dry_run?: boolean;
  /** v0.1.26 (`ObserveModeEnum`). */
  observe_mode?: WireObserveMode;
  metadata?: Record<string, unknown>;
}

/** `ReservationCreateResponse`. */
export interface WireReservationCreateResponse {
  decision: Decision;
  affected_scopes: string[];
  reservation_id?: string;
  reserved?: WireAmount;
  expires_at_ms?: number;
  remaining_ttl_ms?: number;
  scope_path?: string;
  caps?: WireCaps;
  balances?: WireBalance[];
  reason_code?: ReasonCode;
  retry_after_ms?: number;
  cycles_evidence?: WireCyclesEvidenceRef;
  /** v0.1.26: on every DENY. */
  deny_detail?: WireDenyDetail;
}

/** `CommitRequest` (`POST /v1/reservations/{id}/commit`). */
export interface WireCommitRequest {
  idempotency_key: string;
  actual: WireAmount;
  metrics?: WireStandardMetrics;
  metadata?: Record<string, unknown>;
}

/** `CommitResponse`. */
export interface WireCommitResponse {
  status: 'COMMITTED';
  charged: WireAmount;
  released?: WireAmount;
  balances?: WireBalance[];
  cycles_evidence?: WireCyclesEvidenceRef;
}

/** `ReleaseRequest` (`POST /v1/reservations/{id}/release`). */
export interface WireReleaseRequest {
  idempotency_key: string;
  reason?: string;
}

/** `ReleaseResponse`. */
export interface WireReleaseResponse {
  status: 'RELEASED';
  released: WireAmount;
  balances?: WireBalance[];
  cycles_evidence?: WireCyclesEvidenceRef;
}

/** `ReservationExtendRequest` (`POST /v1/reservations/{id}/extend`). */
export interface WireReservationExtendRequest {
  idempotency_key: string;
  extend_by_ms: number;
  metadata?: Record<string, unknown>;
}

/** `ReservationExtendResponse`. */
export interface WireReservationExtendResponse {
  status: 'ACTIVE';
  expires_at_ms: number;
  remaining_ttl_ms?: number;
  balances?: WireBalance[];
}

/** `DecisionRequest` (`POST /v1/decide`). */
export interface WireDecisionRequest {
  idempotency_key: string;
  subject: WireSubject;
  action: WireAction;
  estimate: WireAmount;
  metadata?: Record<string, unknown>;
}

/** `DecisionResponse`. */
export interface WireDecisionResponse {
  decision: Decision;
  caps?: WireCaps;
  reason_code?: ReasonCode;
  retry_after_ms?: number;
  affected_scopes?: string[];
  cycles_evidence?: WireCyclesEvidenceRef;
  /** v0.1.26: on every DENY. */
  deny_detail?: WireDenyDetail;
}

/** `EventCreateRequest` (`POST /v1/events`, answered with 201). */
export interface WireEventCreateRequest {
  idempotency_key: string;
  subject: WireSubject;
  action: WireAction;
  actual: WireAmount;
  overage_policy?: OveragePolicy;
  metrics?: WireStandardMetrics;
  client_time_ms?: number;
  metadata?: Record<string, unknown>;
}

/** `EventCreateResponse`. */
export interface WireEventCreateResponse {
  status: 'APPLIED';
  event_id: string;
  charged?: WireAmount;
  balances?: WireBalance[];
}

/** `BalanceResponse` (`GET /v1/balances`). */
export interface WireBalanceResponse {
  balances: WireBalance[];
  next_cursor?: string;
  has_more?: boolean;
}

/** `ReservationDetail` (`GET /v1/reservations/{id}`). */
export interface WireReservationDetail {
  reservation_id: string;
  status: ReservationStatus;
  idempotency_key?: string;
  subject: WireSubject;
  action: WireAction;
  reserved: WireAmount;
  committed?: WireAmount;
  created_at_ms: number;
  expires_at_ms: number;
  finalized_at_ms?: number;
  scope_path: string;
  affected_scopes: string[];
  metadata?: Record<string, unknown>;
  committed_metadata?: Record<string, unknown>;
  /** Modelled for reading only: the API `ReservationDetail` has no evidence field, so mappers drop it. */
  evidence?: WireReservationEvidence;
}

/** `ReservationSummary`: one row of `GET /v1/reservations` (same fields as the detail). */
export interface WireReservationSummary {
  reservation_id: string;
  status: ReservationStatus;
  idempotency_key?: string;
  subject: WireSubject;
  action: WireAction;
  reserved: WireAmount;
  committed?: WireAmount;
  created_at_ms: number;
  expires_at_ms: number;
  finalized_at_ms?: number;
  scope_path: string;
  affected_scopes: string[];
  /** Only with `include=metadata`. */
  metadata?: Record<string, unknown>;
  /** Only with `include=committed_metadata`. */
  committed_metadata?: Record<string, unknown>;
  /** Only with `include=evidence`; dropped by the mappers (see `WireReservationDetail.evidence`). */
  evidence?: WireReservationEvidence;
}

/** `ReservationListResponse` (`GET /v1/reservations`). */
export interface WireReservationListResponse {
  reservations: WireReservationSummary[];
  next_cursor?: string;
  has_more?: boolean;
}

/** The error codes a protocol server may put in `ErrorResponse.error` (the spec's `ErrorCode` enum). */
export type WireErrorCode = Exclude<
  ErrorCode,
  'AUTHORITY_UNAVAILABLE' | 'MODEL_NOT_PRICED' | 'INVALID_CONFIG'
>;

/** `ErrorResponse`: the body of every 4xx/5xx answer. */
export interface WireErrorResponse {
  error: WireErrorCode;
  message: string;
  request_id: string;
  /** 32 lowercase hex chars; conformant servers always send it. */
  trace_id?: string;
  details?: Record<string, unknown>;
  cycles_evidence?: WireCyclesEvidenceRef;
}
