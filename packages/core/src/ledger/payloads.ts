import type {
  Action,
  CommitRequest,
  DecideRequest,
  EventRequest,
  ExtendRequest,
  ReleaseRequest,
  ReserveRequest,
  Subject,
} from '../protocol/types.ts';
import { finish, number, start, text } from './fingerprint.ts';
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

function free(value: unknown): void {
  text(value === undefined ? undefined : canonicalJson(value));
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
}

/** Fingerprint of a reserve; `dryRun` is normalized so absent equals false (flipping it is a mismatch). */
export function reserveFingerprint(request: ReserveRequest): number {
  start(RESERVE);
  subject(request.subject);
  action(request.action);
  text(request.estimate.unit);
  number(request.estimate.amount);
  number(request.ttlMs);
  number(request.gracePeriodMs);
  text(request.overagePolicy);
  number(request.dryRun === true ? 1 : 0);
  number(request.minimum);
  free(request.metadata);
  return finish();
}

/** Fingerprint of a commit. */
export function commitFingerprint(request: CommitRequest): number {
  start(COMMIT);
  text(request.actual.unit);
  number(request.actual.amount);
  free(request.metrics);
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
  start(DECIDE);
  subject(request.subject);
  action(request.action);
  text(request.estimate.unit);
  number(request.estimate.amount);
  free(request.metadata);
  return finish();
}

/** Fingerprint of an event (client_time_ms is part of the body, so it is part of the payload). */
export function eventFingerprint(request: EventRequest): number {
  start(EVENT);
  subject(request.subject);
  action(request.action);
  text(request.actual.unit);
  number(request.actual.amount);
  text(request.overagePolicy);
  free(request.metrics);
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
