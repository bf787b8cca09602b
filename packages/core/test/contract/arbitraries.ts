import fc from 'fast-check';
import { Decision, OVERAGE_POLICIES, RESERVATION_STATUSES, UNITS } from '../../src/protocol/enums.ts';
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
  Metadata,
  ReleaseRequest,
  ReleaseResponse,
  ReservationDetail,
  ReservationSortKey,
  ReserveRequest,
  ReserveResponse,
  SignedAmount,
  StandardMetrics,
  Subject,
} from '../../src/protocol/types.ts';

/**
 * fast-check arbitraries of API (camelCase) objects whose wire form is valid against the spec: every
 * string length, integer range and enum respects `cycles-protocol-v0.yaml`. Optional fields are left
 * out (never set to `undefined`) so `toEqual` round-trips compare like with like.
 */

const opts = { requiredKeys: [] as never[] };
const level = fc.stringMatching(/^[a-zA-Z0-9_.-]{1,128}$/);
const shortText = (max: number) => fc.string({ minLength: 0, maxLength: max });
const count = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const epochMs = fc.integer({ min: 0, max: 4_102_444_800_000 });
const hex = (length: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${length}}$`));

/** Any unit of account. */
export const unitArb = fc.constantFrom(...UNITS);
/** A 1–256 char idempotency key. */
export const idempotencyKeyArb = fc.string({ minLength: 1, maxLength: 64 });
/** Flat JSON metadata (JSON-stable: no -0, no undefined). */
export const metadataArb: fc.Arbitrary<Metadata> = fc.dictionary(
  fc.string({ maxLength: 12 }),
  fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.boolean(), fc.constant(null)),
  { maxKeys: 4 },
);

export const amountArb: fc.Arbitrary<Amount> = fc.record({ unit: unitArb, amount: count });
export const signedAmountArb: fc.Arbitrary<SignedAmount> = fc.record({
  unit: unitArb,
  amount: fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
});

export const subjectArb: fc.Arbitrary<Subject> = fc
  .record(
    {
      tenant: level,
      workspace: level,
      app: level,
      workflow: level,
      agent: level,
      toolset: level,
      dimensions: fc.dictionary(fc.stringMatching(/^[a-z0-9_.-]{1,16}$/), shortText(256), { maxKeys: 16 }),
    },
    opts,
  )
  .filter((subject) =>
    (['tenant', 'workspace', 'app', 'workflow', 'agent', 'toolset'] as const).some((key) => key in subject),
  );

export const actionArb: fc.Arbitrary<Action> = fc.record(
  {
    kind: shortText(64),
    name: shortText(256),
    tags: fc.array(shortText(64), { maxLength: 10 }),
  },
  { requiredKeys: ['kind', 'name'] },
);

export const capsArb: fc.Arbitrary<Caps> = fc.record(
  {
    maxTokens: count,
    maxStepsRemaining: count,
    toolAllowlist: fc.array(shortText(256), { maxLength: 3 }),
    toolDenylist: fc.array(shortText(256), { maxLength: 3 }),
    cooldownMs: count,
  },
  opts,
);

export const metricsArb: fc.Arbitrary<StandardMetrics> = fc.record(
  {
    tokensInput: count,
    tokensOutput: count,
    latencyMs: count,
    modelVersion: shortText(128),
    custom: metadataArb,
  },
  opts,
);

/** Evidence refs always carry a URL here: URL-less refs are deliberately not sent (see mappers). */
export const evidenceArb: fc.Arbitrary<EvidenceRef> = hex(64).map((evidenceId) => ({
  evidenceId,
  cyclesEvidenceUrl: `https://cycles.example.com/v1/evidence/${evidenceId}`,
}));

export const balanceArb: fc.Arbitrary<Balance> = fc.record(
  {
    scope: level.map((value) => `agent:${value}`),
    scopePath: level.map((value) => `tenant:${value}`),
    remaining: signedAmountArb,
    reserved: amountArb,
    spent: amountArb,
    debt: amountArb,
    allocated: amountArb,
    overdraftLimit: amountArb,
    isOverLimit: fc.boolean(),
  },
  { requiredKeys: ['scope', 'scopePath', 'remaining'] },
);
const balancesArb = fc.array(balanceArb, { maxLength: 3 });
const scopesArb = fc.array(
  level.map((value) => `tenant:${value}`),
  { maxLength: 4 },
);

export const reserveRequestArb: fc.Arbitrary<ReserveRequest> = fc.record(
  {
    idempotencyKey: idempotencyKeyArb,
    subject: subjectArb,
    action: actionArb,
    estimate: amountArb,
    ttlMs: fc.integer({ min: 1_000, max: 86_400_000 }),
    gracePeriodMs: fc.integer({ min: 0, max: 60_000 }),
    overagePolicy: fc.constantFrom(...OVERAGE_POLICIES),
    dryRun: fc.boolean(),
    metadata: metadataArb,
  },
  { requiredKeys: ['idempotencyKey', 'subject', 'action', 'estimate'] },
);

export const reserveResponseArb: fc.Arbitrary<ReserveResponse> = fc.record(
  {
    decision: fc.constantFrom(Decision.ALLOW, Decision.ALLOW_WITH_CAPS, Decision.DENY),
    affectedScopes: scopesArb,
    reservationId: fc.string({ minLength: 1, maxLength: 40 }),
    reserved: amountArb,
    expiresAtMs: epochMs,
    remainingTtlMs: count,
    scopePath: level,
    caps: capsArb,
    balances: balancesArb,
    reasonCode: fc.oneof(fc.constant('BUDGET_EXCEEDED'), fc.stringMatching(/^[A-Z_]{1,128}$/)),
    retryAfterMs: count,
    cyclesEvidence: evidenceArb,
  },
  { requiredKeys: ['decision', 'affectedScopes'] },
);

export const commitRequestArb: fc.Arbitrary<CommitRequest> = fc.record(
  { idempotencyKey: idempotencyKeyArb, actual: amountArb, metrics: metricsArb, metadata: metadataArb },
  { requiredKeys: ['idempotencyKey', 'actual'] },
);

export const commitResponseArb: fc.Arbitrary<CommitResponse> = fc.record(
  {
    status: fc.constant('COMMITTED' as const),
    charged: amountArb,
    released: amountArb,
    balances: balancesArb,
    cyclesEvidence: evidenceArb,
  },
  { requiredKeys: ['status', 'charged'] },
);

export const releaseRequestArb: fc.Arbitrary<ReleaseRequest> = fc.record(
  { idempotencyKey: idempotencyKeyArb, reason: shortText(256) },
  { requiredKeys: ['idempotencyKey'] },
);

export const releaseResponseArb: fc.Arbitrary<ReleaseResponse> = fc.record(
  {
    status: fc.constant('RELEASED' as const),
    released: amountArb,
    balances: balancesArb,
    cyclesEvidence: evidenceArb,
  },
  { requiredKeys: ['status', 'released'] },
);

export const extendRequestArb: fc.Arbitrary<ExtendRequest> = fc.record(
  {
    idempotencyKey: idempotencyKeyArb,
    extendByMs: fc.integer({ min: 1, max: 86_400_000 }),
    metadata: metadataArb,
  },
  { requiredKeys: ['idempotencyKey', 'extendByMs'] },
);

export const extendResponseArb: fc.Arbitrary<ExtendResponse> = fc.record(
  {
    status: fc.constant('ACTIVE' as const),
    expiresAtMs: epochMs,
    remainingTtlMs: count,
    balances: balancesArb,
  },
  { requiredKeys: ['status', 'expiresAtMs'] },
);

export const decideRequestArb: fc.Arbitrary<DecideRequest> = fc.record(
  {
    idempotencyKey: idempotencyKeyArb,
    subject: subjectArb,
    action: actionArb,
    estimate: amountArb,
    metadata: metadataArb,
  },
  { requiredKeys: ['idempotencyKey', 'subject', 'action', 'estimate'] },
);

export const decideResponseArb: fc.Arbitrary<DecideResponse> = fc.record(
  {
    decision: fc.constantFrom(Decision.ALLOW, Decision.ALLOW_WITH_CAPS, Decision.DENY),
    caps: capsArb,
    reasonCode: fc.constantFrom('BUDGET_EXCEEDED', 'BUDGET_FROZEN', 'SOMETHING_NEW'),
    retryAfterMs: count,
    affectedScopes: scopesArb,
    cyclesEvidence: evidenceArb,
  },
  { requiredKeys: ['decision'] },
);

export const eventRequestArb: fc.Arbitrary<EventRequest> = fc.record(
  {
    idempotencyKey: idempotencyKeyArb,
    subject: subjectArb,
    action: actionArb,
    actual: amountArb,
    overagePolicy: fc.constantFrom(...OVERAGE_POLICIES),
    metrics: metricsArb,
    clientTimeMs: epochMs,
    metadata: metadataArb,
  },
  { requiredKeys: ['idempotencyKey', 'subject', 'action', 'actual'] },
);

export const eventResponseArb: fc.Arbitrary<EventResponse> = fc.record(
  {
    status: fc.constant('APPLIED' as const),
    eventId: fc.string({ minLength: 1, maxLength: 40 }),
    charged: amountArb,
    balances: balancesArb,
  },
  { requiredKeys: ['status', 'eventId'] },
);

export const balancesResponseArb: fc.Arbitrary<BalancesResponse> = fc.record(
  { balances: balancesArb, nextCursor: fc.string({ maxLength: 20 }), hasMore: fc.boolean() },
  { requiredKeys: ['balances'] },
);

export const reservationDetailArb: fc.Arbitrary<ReservationDetail> = fc.record(
  {
    reservationId: fc.string({ minLength: 1, maxLength: 40 }),
    status: fc.constantFrom(...RESERVATION_STATUSES),
    idempotencyKey: idempotencyKeyArb,
    subject: subjectArb,
    action: actionArb,
    reserved: amountArb,
    committed: amountArb,
    createdAtMs: epochMs,
    expiresAtMs: epochMs,
    finalizedAtMs: epochMs,
    scopePath: level,
    affectedScopes: scopesArb,
    metadata: metadataArb,
    committedMetadata: metadataArb,
  },
  {
    requiredKeys: [
      'reservationId',
      'status',
      'subject',
      'action',
      'reserved',
      'createdAtMs',
      'expiresAtMs',
      'scopePath',
      'affectedScopes',
    ],
  },
);

export const listReservationsResponseArb: fc.Arbitrary<ListReservationsResponse> = fc.record(
  {
    reservations: fc.array(reservationDetailArb, { maxLength: 3 }),
    nextCursor: fc.string({ maxLength: 20 }),
    hasMore: fc.boolean(),
  },
  { requiredKeys: ['reservations'] },
);

/** Non-blank strings: blank query values mean "unset" and would not round-trip. */
const paramText = fc.string({ minLength: 1, maxLength: 30 }).filter((value) => value.trim() !== '');

export const balancesQueryArb: fc.Arbitrary<BalancesQuery> = fc.record(
  {
    tenant: level,
    workspace: level,
    app: level,
    workflow: level,
    agent: level,
    toolset: level,
    includeChildren: fc.boolean(),
    limit: fc.integer({ min: 1, max: 200 }),
    cursor: paramText,
  },
  opts,
);

const SORT_KEYS: ReservationSortKey[] = [
  'reservation_id',
  'tenant',
  'scope_path',
  'status',
  'reserved',
  'created_at_ms',
  'expires_at_ms',
];

export const listReservationsQueryArb: fc.Arbitrary<ListReservationsQuery> = fc.record(
  {
    idempotencyKey: paramText,
    status: fc.constantFrom(...RESERVATION_STATUSES),
    tenant: level,
    workspace: level,
    app: level,
    workflow: level,
    agent: level,
    toolset: level,
    fromMs: epochMs,
    toMs: epochMs,
    expiresFromMs: epochMs,
    expiresToMs: epochMs,
    finalizedFromMs: epochMs,
    finalizedToMs: epochMs,
    sortBy: fc.constantFrom(...SORT_KEYS),
    sortDir: fc.constantFrom('asc' as const, 'desc' as const),
    include: fc.uniqueArray(fc.constantFrom('metadata', 'committed_metadata', 'evidence'), {
      minLength: 1,
      maxLength: 3,
    }),
    limit: fc.integer({ min: 1, max: 200 }),
    cursor: paramText,
  },
  opts,
);
