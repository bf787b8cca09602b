import type {
  Action,
  CommitRequest,
  DecideRequest,
  EventRequest,
  ReserveRequest,
  Subject,
} from '../protocol/types.ts';
import { canonicalJson } from './idempotency.ts';

// Canonical idempotency payloads per operation: fixed-shape parts positionally, free-form parts
// (dimensions, tags, metadata, metrics) through the key-sorting canonicalJson. Equivalent to comparing
// canonical JSON of the whole request, and several times cheaper on the hot path.

function optional(value: unknown): string | null {
  return value === undefined ? null : canonicalJson(value);
}

// Subject values are validated to [a-zA-Z0-9_.-], units and policies are enum names and amounts are
// integers, so none can contain the `|` separator; free text goes through JSON, which is self-delimiting.
function subjectText(subject: Subject): string {
  return `${subject.tenant ?? ''}|${subject.workspace ?? ''}|${subject.app ?? ''}|${subject.workflow ?? ''}|${
    subject.agent ?? ''
  }|${subject.toolset ?? ''}|${optionalText(subject.dimensions)}`;
}

function actionText(action: Action): string {
  return `${JSON.stringify(action.kind)}|${JSON.stringify(action.name)}|${optionalText(action.tags)}`;
}

function optionalText(value: unknown): string {
  return value === undefined ? '' : canonicalJson(value);
}

/** Payload of a reserve; `dryRun` is normalized so absent equals false (flipping it is a mismatch). */
export function reservePayload(request: ReserveRequest): string {
  const estimate = request.estimate;
  return `${subjectText(request.subject)}|${actionText(request.action)}|${estimate.unit}|${estimate.amount}|${
    request.ttlMs ?? ''
  }|${request.gracePeriodMs ?? ''}|${request.overagePolicy ?? ''}|${request.dryRun === true ? 1 : 0}|${
    request.minimum ?? ''
  }|${optionalText(request.metadata)}`;
}

/** Payload of a commit. */
export function commitPayload(request: CommitRequest): string {
  const actual = request.actual;
  return `${actual.unit}|${actual.amount}|${optionalText(request.metrics)}|${optionalText(request.metadata)}`;
}

/** Payload of a decide. */
export function decidePayload(request: DecideRequest): string {
  return JSON.stringify([
    subjectText(request.subject),
    actionText(request.action),
    request.estimate.unit,
    request.estimate.amount,
    optional(request.metadata),
  ]);
}

/** Payload of an event (client_time_ms is part of the body, so it is part of the payload). */
export function eventPayload(request: EventRequest): string {
  return JSON.stringify([
    subjectText(request.subject),
    actionText(request.action),
    request.actual.unit,
    request.actual.amount,
    request.overagePolicy,
    optional(request.metrics),
    request.clientTimeMs,
    optional(request.metadata),
  ]);
}
