import type {
  Action,
  CommitRequest,
  DecideRequest,
  EventRequest,
  ExtendRequest,
  ReleaseRequest,
  ReserveRequest,
  StandardMetrics,
  Subject,
} from '../protocol/types.ts';
import { finish, lanes, number, resume, start, text } from './fingerprint.ts';
import { canonicalJson } from './idempotency.ts';

// Idempotency payload fingerprints per operation. Fixed-shape parts are hashed field by field;
// free-form parts (dimensions, tags, metadata, metrics) go through the key-sorting canonicalJson, so
// two requests match exactly when their canonical JSON would (RFC 8785-like), without building it.

const RESERVE = 1;
const COMMIT = 2;
const RELEASE = 3;
const EXTEND = 4;
const DECIDE = 5;
const EVENT = 6;
const FUNDING = 7;

/** Enum values (validated before any fingerprint) as small codes: no per-character hashing. */
const CODES: Readonly<Record<string, number>> = {
  USD_MICROCENTS: 1,
  TOKENS: 2,
  CREDITS: 3,
  RISK_POINTS: 4,
  REJECT: 5,
  ALLOW_IF_AVAILABLE: 6,
  ALLOW_WITH_OVERDRAFT: 7,
};

/** An enum part; an unexpected value is hashed as text, so it still never equals a known one. */
function code(value: string | undefined): void {
  const known = value === undefined ? undefined : CODES[value];
  if (known === undefined) text(value);
  else number(-known);
}

function free(value: unknown): void {
  text(value === undefined ? undefined : canonicalJson(value));
}

/** The standard metrics fields, hashed one by one; a tag keeps them apart from the canonical-JSON form. */
const STANDARD_METRICS = -8;

/**
 * Metrics as their canonical JSON would compare: field by field when every defined key is a standard
 * one (what guards send on every commit; validated as integers and a string), else the canonical JSON
 * of the whole object.
 */
function metrics(value: StandardMetrics | undefined): void {
  if (value === undefined || !isStandardShape(value)) {
    free(value);
    return;
  }
  number(STANDARD_METRICS);
  number(value.tokensInput);
  number(value.tokensOutput);
  number(value.latencyMs);
  text(value.modelVersion);
}

/** Whether every key with a value is a standard one (`custom` and unknown keys are not). */
function isStandardShape(value: StandardMetrics): boolean {
  for (const key in value) {
    if ((value as Record<string, unknown>)[key] === undefined) continue;
    if (key !== 'tokensInput' && key !== 'tokensOutput' && key !== 'latencyMs' && key !== 'modelVersion')
      return false;
  }
  return true;
}

function subject(value: Subject): void {
  text(value.tenant);
  text(value.workspace);
  text(value.app);
  text(value.workflow);
  text(value.agent);
  text(value.toolset);
  free(value.dimensions);
}

function action(value: Action): void {
  text(value.kind);
  text(value.name);
  free(value.tags);
  if (value.policyKeys !== undefined) free(value.policyKeys);
}

/** The last subject + action prefix hashed without free-form parts, and the lanes after it. */
const prefix = {
  domain: 0,
  tenant: '' as string | undefined,
  workspace: '' as string | undefined,
  app: '' as string | undefined,
  workflow: '' as string | undefined,
  agent: '' as string | undefined,
  toolset: '' as string | undefined,
  kind: '',
  name: '',
  lanes: [0, 0] as [number, number],
};

/**
 * Starts a fingerprint with the domain, subject and action. Callers usually repeat one subject and
 * action, so a prefix without dimensions or tags is memoized by value and resumed instead of re-hashed.
 */
function startWith(domain: number, value: Subject, act: Action): void {
  const plain = value.dimensions === undefined && act.tags === undefined && act.policyKeys === undefined;
  if (
    plain &&
    prefix.domain === domain &&
    value.tenant === prefix.tenant &&
    value.workspace === prefix.workspace &&
    value.app === prefix.app &&
    value.workflow === prefix.workflow &&
    value.agent === prefix.agent &&
    value.toolset === prefix.toolset &&
    act.kind === prefix.kind &&
    act.name === prefix.name
  ) {
    resume(prefix.lanes[0], prefix.lanes[1]);
    return;
  }
  start(domain);
  subject(value);
  action(act);
  if (!plain) return;
  prefix.domain = domain;
  prefix.tenant = value.tenant;
  prefix.workspace = value.workspace;
  prefix.app = value.app;
  prefix.workflow = value.workflow;
  prefix.agent = value.agent;
  prefix.toolset = value.toolset;
  prefix.kind = act.kind;
  prefix.name = act.name;
  prefix.lanes = lanes();
}

/** Fingerprint of a reserve; `dryRun` is normalized so absent equals false (flipping it is a mismatch). */
export function reserveFingerprint(request: ReserveRequest): number {
  startWith(RESERVE, request.subject, request.action);
  code(request.estimate.unit);
  number(request.estimate.amount);
  number(request.ttlMs);
  number(request.gracePeriodMs);
  code(request.overagePolicy);
  number(request.dryRun === true ? 1 : 0);
  number(request.minimum);
  number(request.observeMode === undefined ? undefined : request.observeMode ? 1 : 0);
  free(request.metadata);
  return finish();
}

/** Fingerprint of a commit. */
export function commitFingerprint(request: CommitRequest): number {
  start(COMMIT);
  code(request.actual.unit);
  number(request.actual.amount);
  metrics(request.metrics);
  free(request.metadata);
  return finish();
}

/** Fingerprint of a release. */
export function releaseFingerprint(request: ReleaseRequest): number {
  start(RELEASE);
  text(request.reason);
  return finish();
}

/** Fingerprint of an extend. */
export function extendFingerprint(request: ExtendRequest): number {
  start(EXTEND);
  number(request.extendByMs);
  free(request.metadata);
  return finish();
}

/** Fingerprint of a decide. */
export function decideFingerprint(request: DecideRequest): number {
  startWith(DECIDE, request.subject, request.action);
  code(request.estimate.unit);
  number(request.estimate.amount);
  free(request.metadata);
  return finish();
}

/** Fingerprint of an event (client_time_ms is part of the body, so it is part of the payload). */
export function eventFingerprint(request: EventRequest): number {
  startWith(EVENT, request.subject, request.action);
  code(request.actual.unit);
  number(request.actual.amount);
  code(request.overagePolicy);
  metrics(request.metrics);
  number(request.clientTimeMs);
  free(request.metadata);
  return finish();
}

/** Fingerprint of a funding request (operation, amounts and reason). */
export function fundingFingerprint(funding: unknown, reason: string | undefined): number {
  start(FUNDING);
  free(funding);
  text(reason);
  return finish();
}
