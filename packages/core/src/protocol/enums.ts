/** Units of account. 1 USD = 100,000,000 USD_MICROCENTS. All amounts are integers. */
export const Unit = {
  USD_MICROCENTS: 'USD_MICROCENTS',
  TOKENS: 'TOKENS',
  CREDITS: 'CREDITS',
  RISK_POINTS: 'RISK_POINTS',
} as const;
export type Unit = (typeof Unit)[keyof typeof Unit];
export const UNITS: readonly Unit[] = Object.values(Unit);

export const Decision = { ALLOW: 'ALLOW', ALLOW_WITH_CAPS: 'ALLOW_WITH_CAPS', DENY: 'DENY' } as const;
export type Decision = (typeof Decision)[keyof typeof Decision];

/** What a commit (or event) does when the actual amount exceeds what was held. */
export const OveragePolicy = {
  REJECT: 'REJECT',
  ALLOW_IF_AVAILABLE: 'ALLOW_IF_AVAILABLE',
  ALLOW_WITH_OVERDRAFT: 'ALLOW_WITH_OVERDRAFT',
} as const;
export type OveragePolicy = (typeof OveragePolicy)[keyof typeof OveragePolicy];
export const OVERAGE_POLICIES: readonly OveragePolicy[] = Object.values(OveragePolicy);

export const ReservationStatus = {
  ACTIVE: 'ACTIVE',
  COMMITTED: 'COMMITTED',
  RELEASED: 'RELEASED',
  EXPIRED: 'EXPIRED',
} as const;
export type ReservationStatus = (typeof ReservationStatus)[keyof typeof ReservationStatus];
export const RESERVATION_STATUSES: readonly ReservationStatus[] = Object.values(ReservationStatus);

/** The protocol's `ErrorCode` enum (v0.1.25), plus cycles-guard's own codes after the marker. */
export const ErrorCode = {
  INVALID_REQUEST: 'INVALID_REQUEST',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  BUDGET_EXCEEDED: 'BUDGET_EXCEEDED',
  BUDGET_FROZEN: 'BUDGET_FROZEN',
  BUDGET_CLOSED: 'BUDGET_CLOSED',
  RESERVATION_EXPIRED: 'RESERVATION_EXPIRED',
  RESERVATION_FINALIZED: 'RESERVATION_FINALIZED',
  IDEMPOTENCY_MISMATCH: 'IDEMPOTENCY_MISMATCH',
  UNIT_MISMATCH: 'UNIT_MISMATCH',
  OVERDRAFT_LIMIT_EXCEEDED: 'OVERDRAFT_LIMIT_EXCEEDED',
  DEBT_OUTSTANDING: 'DEBT_OUTSTANDING',
  MAX_EXTENSIONS_EXCEEDED: 'MAX_EXTENSIONS_EXCEEDED',
  LIMIT_EXCEEDED: 'LIMIT_EXCEEDED',
  TENANT_CLOSED: 'TENANT_CLOSED',
  INTERNAL_ERROR: 'INTERNAL_ERROR',
  // cycles-guard extensions (never sent on the wire by a protocol server)
  AUTHORITY_UNAVAILABLE: 'AUTHORITY_UNAVAILABLE',
  MODEL_NOT_PRICED: 'MODEL_NOT_PRICED',
  INVALID_CONFIG: 'INVALID_CONFIG',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Error codes defined by the protocol itself (what a Cycles server may put in `error`). */
export const PROTOCOL_ERROR_CODES = [
  'INVALID_REQUEST',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'BUDGET_EXCEEDED',
  'BUDGET_FROZEN',
  'BUDGET_CLOSED',
  'RESERVATION_EXPIRED',
  'RESERVATION_FINALIZED',
  'IDEMPOTENCY_MISMATCH',
  'UNIT_MISMATCH',
  'OVERDRAFT_LIMIT_EXCEEDED',
  'DEBT_OUTSTANDING',
  'MAX_EXTENSIONS_EXCEEDED',
  'LIMIT_EXCEEDED',
  'TENANT_CLOSED',
  'INTERNAL_ERROR',
] as const satisfies readonly ErrorCode[];

/**
 * Why a decide / dry-run evaluation said DENY. An open string in the protocol: unknown values must be
 * treated as a generic DENY.
 */
export const ReasonCode = {
  BUDGET_EXCEEDED: 'BUDGET_EXCEEDED',
  BUDGET_FROZEN: 'BUDGET_FROZEN',
  BUDGET_CLOSED: 'BUDGET_CLOSED',
  BUDGET_NOT_FOUND: 'BUDGET_NOT_FOUND',
  OVERDRAFT_LIMIT_EXCEEDED: 'OVERDRAFT_LIMIT_EXCEEDED',
  DEBT_OUTSTANDING: 'DEBT_OUTSTANDING',
  TENANT_CLOSED: 'TENANT_CLOSED',
} as const;
export type ReasonCode = (typeof ReasonCode)[keyof typeof ReasonCode] | (string & {});

/** Ledger status: ACTIVE ↔ FROZEN is reversible; CLOSED is terminal. */
export const LedgerStatus = { ACTIVE: 'ACTIVE', FROZEN: 'FROZEN', CLOSED: 'CLOSED' } as const;
export type LedgerStatus = (typeof LedgerStatus)[keyof typeof LedgerStatus];

/** Subject levels in canonical (outermost first) order. */
export const SUBJECT_LEVELS = ['tenant', 'workspace', 'app', 'workflow', 'agent', 'toolset'] as const;
export type SubjectLevel = (typeof SUBJECT_LEVELS)[number];
