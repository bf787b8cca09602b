import type { Action, Subject } from '@cycles-guard/core';
import type { CommitRequest, DecideRequest, EventRequest, ReserveRequest } from '@cycles-guard/core/protocol';

// Canonical idempotency payloads, the same strings the memory ledger compares (core keeps these
// private; this copy must stay byte-identical so a key means the same thing on either ledger).

/** Stable, key-sorted JSON of a plain value; `undefined` object members are omitted. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    return value === undefined ? 'null' : JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const record = value as Record<string, unknown>;
  const members: string[] = [];
  for (const key of Object.keys(record).sort()) {
    if (record[key] !== undefined) members.push(`${JSON.stringify(key)}:${canonicalJson(record[key])}`);
  }
  return `{${members.join(',')}}`;
}

function optionalText(value: unknown): string {
  return value === undefined ? '' : canonicalJson(value);
}

function subjectText(subject: Subject): string {
  return `${subject.tenant ?? ''}|${subject.workspace ?? ''}|${subject.app ?? ''}|${subject.workflow ?? ''}|${
    subject.agent ?? ''
  }|${subject.toolset ?? ''}|${optionalText(subject.dimensions)}`;
}

function actionText(action: Action): string {
  return `${JSON.stringify(action.kind)}|${JSON.stringify(action.name)}|${optionalText(action.tags)}`;
}

export function reservePayload(request: ReserveRequest): string {
  const estimate = request.estimate;
  return `${subjectText(request.subject)}|${actionText(request.action)}|${estimate.unit}|${estimate.amount}|${
    request.ttlMs ?? ''
  }|${request.gracePeriodMs ?? ''}|${request.overagePolicy ?? ''}|${request.dryRun === true ? 1 : 0}|${
    request.minimum ?? ''
  }|${optionalText(request.metadata)}`;
}

export function commitPayload(request: CommitRequest): string {
  const actual = request.actual;
  return `${actual.unit}|${actual.amount}|${optionalText(request.metrics)}|${optionalText(request.metadata)}`;
}

export function decidePayload(request: DecideRequest): string {
  return JSON.stringify([
    subjectText(request.subject),
    actionText(request.action),
    request.estimate.unit,
    request.estimate.amount,
    request.metadata === undefined ? null : canonicalJson(request.metadata),
  ]);
}

export function eventPayload(request: EventRequest): string {
  return JSON.stringify([
    subjectText(request.subject),
    actionText(request.action),
    request.actual.unit,
    request.actual.amount,
    request.overagePolicy,
    request.metrics === undefined ? null : canonicalJson(request.metrics),
    request.clientTimeMs,
    request.metadata === undefined ? null : canonicalJson(request.metadata),
  ]);
}
