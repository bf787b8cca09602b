import type { DenyDetail } from './deny-detail.ts';
import type { Decision, LedgerStatus, OveragePolicy, ReasonCode, ReservationStatus, Unit } from './enums.ts';
import type { ActionPolicyKeys } from './policy-keys.ts';

/**
 * The API (camelCase) form of every object of the Cycles protocol v0.1.25 runtime surface.
 * `wire.ts` has the snake_case form and `mappers.ts` converts between them.
 */

/** An integer amount ≥ 0 in one unit. */
export interface Amount {
  unit: Unit;
  amount: number;
}

/** Like Amount but may be negative (only `remaining`). */
export interface SignedAmount {
  unit: Unit;
  amount: number;
}

/**
 * Who spends. At least one standard level is required; `dimensions` is round-tripped, never budgeted.
 * A level set to `undefined` counts as absent (`| undefined` lets `exactOptionalPropertyTypes` users
 * write `{ tenant: tenantOf(request) }`).
 */
export interface Subject {
  tenant?: string | undefined;
  workspace?: string | undefined;
  app?: string | undefined;
  workflow?: string | undefined;
  agent?: string | undefined;
  toolset?: string | undefined;
  dimensions?: Record<string, string> | undefined;
}

export interface Action {
  /** e.g. `llm.completion` (≤ 64 chars). */
  kind: string;
  /** e.g. the model id (≤ 256 chars). */
  name: string;
  tags?: string[];
  /** **v0.1.26.** Policy routing dimensions; validated, not evaluated yet (no action-kind policies). */
  policyKeys?: ActionPolicyKeys;
}

/** Soft limits returned with ALLOW_WITH_CAPS. The authority never enforces them; callers do. */
export interface Caps {
  maxTokens?: number;
  maxStepsRemaining?: number;
  toolAllowlist?: string[];
  toolDenylist?: string[];
  cooldownMs?: number;
}

export interface StandardMetrics {
  tokensInput?: number;
  tokensOutput?: number;
  latencyMs?: number;
  modelVersion?: string;
  custom?: Record<string, unknown>;
}

export type Metadata = Record<string, unknown>;

export interface Balance {
  /** The leaf segment, e.g. `agent:bot`. */
  scope: string;
  /** The full canonical path, e.g. `tenant:acme/agent:bot`. */
  scopePath: string;
  remaining: SignedAmount;
  reserved?: Amount;
  spent?: Amount;
  debt?: Amount;
  allocated?: Amount;
  overdraftLimit?: Amount;
  isOverLimit?: boolean;
}

export interface ReserveRequest {
  idempotencyKey: string;
  subject: Subject;
  action: Action;
  estimate: Amount;
  /** 1,000–86,400,000; default 60,000. */
  ttlMs?: number;
  /** 0–60,000; default 5,000. */
  gracePeriodMs?: number;
  overagePolicy?: OveragePolicy;
  dryRun?: boolean;
  /**
   * **v0.1.26 observe mode.** true: evaluate as usual but hold and change nothing, answered like a dry
   * run (OBSERVE); false: enforce even when the tenant's default is to observe. Absent: the tenant's default.
   */
  observeMode?: boolean;
  metadata?: Metadata;
  /**
   * **Extension (partial holds).** If the full estimate does not fit but this minimum does, hold the largest
   * amount that fits on every budgeted scope. The response's `reserved` says what was held and
   * `partial` is true. Never sent to a protocol server (see the HTTP authority).
   */
  minimum?: number;
}

export interface EvidenceRef {
  evidenceId: string;
  cyclesEvidenceUrl?: string;
}

export interface ReserveResponse {
  decision: Decision;
  affectedScopes: string[];
  reservationId?: string;
  reserved?: Amount;
  expiresAtMs?: number;
  remainingTtlMs?: number;
  scopePath?: string;
  caps?: Caps;
  balances?: Balance[];
  reasonCode?: ReasonCode;
  retryAfterMs?: number;
  cyclesEvidence?: EvidenceRef;
  /** **v0.1.26.** On every DENY: why, where, and what would fix it. */
  denyDetail?: DenyDetail;
  /** **Extension.** True when a partial hold held less than the estimate. Not on the wire. */
  partial?: boolean;
}

export interface CommitRequest {
  idempotencyKey: string;
  actual: Amount;
  metrics?: StandardMetrics;
  metadata?: Metadata;
}

export interface CommitResponse {
  status: 'COMMITTED';
  charged: Amount;
  released?: Amount;
  balances?: Balance[];
  cyclesEvidence?: EvidenceRef;
}

export interface ReleaseRequest {
  idempotencyKey: string;
  reason?: string;
}

export interface ReleaseResponse {
  status: 'RELEASED';
  released: Amount;
  balances?: Balance[];
  cyclesEvidence?: EvidenceRef;
}

export interface ExtendRequest {
  idempotencyKey: string;
  /** Added to the current `expiresAtMs` (not to now). 1–86,400,000. */
  extendByMs: number;
  metadata?: Metadata;
}

export interface ExtendResponse {
  status: 'ACTIVE';
  expiresAtMs: number;
  remainingTtlMs?: number;
  balances?: Balance[];
}

export interface DecideRequest {
  idempotencyKey: string;
  subject: Subject;
  action: Action;
  estimate: Amount;
  metadata?: Metadata;
}

export interface DecideResponse {
  decision: Decision;
  caps?: Caps;
  reasonCode?: ReasonCode;
  retryAfterMs?: number;
  affectedScopes?: string[];
  cyclesEvidence?: EvidenceRef;
  /** **v0.1.26.** On every DENY: why, where, and what would fix it. */
  denyDetail?: DenyDetail;
}

export interface EventRequest {
  idempotencyKey: string;
  subject: Subject;
  action: Action;
  actual: Amount;
  overagePolicy?: OveragePolicy;
  metrics?: StandardMetrics;
  /** Advisory only: never changes an outcome. */
  clientTimeMs?: number;
  metadata?: Metadata;
}

export interface EventResponse {
  status: 'APPLIED';
  eventId: string;
  /** Present only when the charge was capped below `actual`. */
  charged?: Amount;
  balances?: Balance[];
}

export interface BalancesQuery {
  tenant?: string;
  workspace?: string;
  app?: string;
  workflow?: string;
  agent?: string;
  toolset?: string;
  includeChildren?: boolean;
  /** 1–200, default 50. */
  limit?: number;
  cursor?: string;
}

export interface BalancesResponse {
  balances: Balance[];
  nextCursor?: string;
  hasMore?: boolean;
}

export interface ReservationDetail {
  reservationId: string;
  status: ReservationStatus;
  idempotencyKey?: string;
  subject: Subject;
  action: Action;
  reserved: Amount;
  committed?: Amount;
  createdAtMs: number;
  expiresAtMs: number;
  finalizedAtMs?: number;
  scopePath: string;
  affectedScopes: string[];
  metadata?: Metadata;
  committedMetadata?: Metadata;
}

export type ReservationSummary = ReservationDetail;

export type ReservationSortKey =
  | 'reservation_id'
  | 'tenant'
  | 'scope_path'
  | 'status'
  | 'reserved'
  | 'created_at_ms'
  | 'expires_at_ms';

export interface ListReservationsQuery {
  idempotencyKey?: string;
  status?: ReservationStatus;
  tenant?: string;
  workspace?: string;
  app?: string;
  workflow?: string;
  agent?: string;
  toolset?: string;
  /** Created-at window (ms since epoch, inclusive). */
  fromMs?: number;
  toMs?: number;
  expiresFromMs?: number;
  expiresToMs?: number;
  finalizedFromMs?: number;
  finalizedToMs?: number;
  sortBy?: ReservationSortKey;
  sortDir?: 'asc' | 'desc';
  /** Projection only: `metadata`, `committed_metadata`. */
  include?: string[];
  limit?: number;
  cursor?: string;
}

export interface ListReservationsResponse {
  reservations: ReservationSummary[];
  nextCursor?: string;
  hasMore?: boolean;
}

/** One budget: a (scope, unit) pair with its counters. Used by provisioning and ledger snapshots. */
export interface LedgerState {
  ledgerId: string;
  scope: string;
  unit: Unit;
  allocated: number;
  remaining: number;
  reserved: number;
  spent: number;
  debt: number;
  overdraftLimit: number;
  isOverLimit: boolean;
  status: LedgerStatus;
  caps?: Caps;
  commitOveragePolicy?: OveragePolicy;
  /** Budget window, when the ledger resets on a calendar boundary (extension). */
  window?: BudgetWindow;
  /** Start of the current window (ms), when windowed. */
  periodStartMs?: number;
  /** End of the current window (ms, exclusive), when windowed. */
  periodEndMs?: number;
}

/** **Extension.** A ledger that starts afresh at each calendar boundary in an IANA time zone. */
export interface BudgetWindow {
  period: 'hour' | 'day' | 'week' | 'month';
  /** IANA time zone, default `UTC`. Weeks start on Monday. */
  timeZone?: string;
}
