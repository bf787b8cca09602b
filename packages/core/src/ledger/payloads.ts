import type {
  Action,
  Amount,
  CommitRequest,
  DecideRequest,
  EventRequest,
  ReserveRequest,
  Subject,
} from '../protocol/types.ts';
import { canonicalJson } from './idempotency.ts';

// Canonical idempotency payloads per operation. The fixed-shape parts (subject levels, action, amounts)
// go into a positional array serialized by native JSON.stringify; only free-form parts (dimensions,
// tags, metadata, metrics) go through the key-sorting canonicalJson. Equivalent to comparing canonical
// JSON of the whole request, and several times cheaper on the hot path.

function optional(value: unknown): string | null {
  return value === undefined ? null : canonicalJson(value);
}

function subjectParts(subject: Subject): unknown[] {
  return [
    subject.tenant,
    subject.workspace,
    subject.app,
    subject.workflow,
    subject.agent,
    subject.toolset,
    optional(subject.dimensions),
  ];
}

function actionParts(action: Action): unknown[] {
  return [action.kind, action.name, action.tags];
}

function amountParts(amount: Amount): unknown[] {
  return [amount.unit, amount.amount];
}

/** Payload of a reserve; `dryRun` is normalized so absent equals false (flipping it is a mismatch). */
export function reservePayload(request: ReserveRequest): string {
  return JSON.stringify([
    subjectParts(request.subject),
    actionParts(request.action),
    amountParts(request.estimate),
    request.ttlMs,
    request.gracePeriodMs,
    request.overagePolicy,
    request.dryRun === true,
    optional(request.metadata),
    request.minimum,
  ]);
}

/** Payload of a commit. */
export function commitPayload(request: CommitRequest): string {
  return JSON.stringify([amountParts(request.actual), optional(request.metrics), optional(request.metadata)]);
}

/** Payload of a decide. */
export function decidePayload(request: DecideRequest): string {
  return JSON.stringify([
    subjectParts(request.subject),
    actionParts(request.action),
    amountParts(request.estimate),
    optional(request.metadata),
  ]);
}

/** Payload of an event (client_time_ms is part of the body, so it is part of the payload). */
export function eventPayload(request: EventRequest): string {
  return JSON.stringify([
    subjectParts(request.subject),
    actionParts(request.action),
    amountParts(request.actual),
    request.overagePolicy,
    optional(request.metrics),
    request.clientTimeMs,
    optional(request.metadata),
  ]);
}
