import { createHash } from 'node:crypto';
import { denyDetailOf, toWireDenyDetail, type WireDenyDetail } from '../../protocol/deny-detail.ts';
import type { Decision, OveragePolicy, Unit } from '../../protocol/enums.ts';
import type { Action, Caps, Subject } from '../../protocol/types.ts';
import { type EventDraft, tenantOfScope } from './event-types.ts';

// Drafts of the reservation.* events, from plain facts both ledgers know (no ledger rows).

/** Wire form of a subject or action (GOV payloads carry them as sent). */
function wireOf(value: Subject | Action): Record<string, unknown> {
  const wire: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) if (field !== undefined) wire[key] = field;
  return wire;
}

/** Why a reserve was refused, where, and what was left (PEXT `DenyDetail`). */
export interface DenialFacts {
  tenant: string | undefined;
  /** The subject's scope path. */
  scope: string;
  unit: Unit;
  reasonCode: string;
  /** The scope that refused (the first failing one), when a budget did. */
  blockedByScope?: string;
  /** Its remaining amount (may be negative). */
  remaining?: number;
  requested: number;
  subject: Subject;
  action: Action;
  /** Start of the blocking ledger's window (for the observed-denial correlation id). */
  windowKey?: string;
}

/** PEXT `DenyDetail` of a denial, in wire form: the same detail the reserve's answer carries. */
function wireDenyDetail(facts: DenialFacts): WireDenyDetail {
  return toWireDenyDetail(
    denyDetailOf({
      reason: facts.reasonCode,
      ...(facts.blockedByScope === undefined ? {} : { scope: facts.blockedByScope }),
      ...(facts.remaining === undefined ? {} : { remaining: facts.remaining }),
      requested: facts.requested,
      unit: facts.unit,
    }),
  );
}

/** `reservation.denied` (GOV `EventDataReservationDenied`). */
export function deniedDraft(facts: DenialFacts): EventDraft {
  const data: Record<string, unknown> = {
    scope: facts.blockedByScope ?? facts.scope,
    unit: facts.unit,
    reason_code: facts.reasonCode,
    requested_amount: facts.requested,
    action: wireOf(facts.action),
    subject: wireOf(facts.subject),
    deny_detail: wireDenyDetail(facts),
  };
  if (facts.remaining !== undefined) data.remaining = facts.remaining;
  return { type: 'reservation.denied', tenant: facts.tenant, scope: facts.scope, data };
}

/** `reservation.observed_denied` (PEXT `EventDataObservedDenied`), correlated as PEXT requires. */
export function observedDeniedDraft(facts: DenialFacts): EventDraft {
  const correlation = createHash('sha256')
    .update(
      [facts.tenant ?? '', facts.scope, facts.action.kind, facts.windowKey ?? '', facts.reasonCode].join(
        '\0',
      ),
    )
    .digest('hex')
    .slice(0, 32);
  return {
    type: 'reservation.observed_denied',
    tenant: facts.tenant,
    scope: facts.scope,
    correlationId: correlation,
    data: {
      scope: facts.blockedByScope ?? facts.scope,
      unit: facts.unit,
      deny_detail: wireDenyDetail(facts),
      observe_mode: 'OBSERVE',
      action: wireOf(facts.action),
      subject: wireOf(facts.subject),
      estimated_amount: facts.requested,
    },
  };
}

/** `reservation.observed_allowed` (PEXT `EventDataObservedAllowed`). */
export function observedAllowedDraft(facts: {
  tenant: string | undefined;
  scope: string;
  unit: Unit;
  decision: Decision;
  estimated: number;
  subject: Subject;
  action: Action;
  caps?: Caps;
}): EventDraft {
  const data: Record<string, unknown> = {
    scope: facts.scope,
    decision: facts.decision,
    observe_mode: 'OBSERVE',
    unit: facts.unit,
    action: wireOf(facts.action),
    subject: wireOf(facts.subject),
    estimated_amount: facts.estimated,
  };
  if (facts.caps !== undefined) data.caps_applied = facts.caps;
  return { type: 'reservation.observed_allowed', tenant: facts.tenant, scope: facts.scope, data };
}

/** A reservation as the expiry and overage events describe it. */
export interface ReservationFacts {
  reservationId: string;
  tenant: string | undefined;
  scope: string;
  unit: Unit;
  estimate: number;
  createdAtMs: number;
  expiresAtMs: number;
  extensions: number;
}

/** `reservation.expired` (GOV `EventDataReservationExpired`). */
export function expiredDraft(reservation: ReservationFacts, nowMs: number): EventDraft {
  return {
    type: 'reservation.expired',
    tenant: reservation.tenant ?? tenantOfScope(reservation.scope),
    scope: reservation.scope,
    correlationId: reservation.reservationId,
    data: {
      reservation_id: reservation.reservationId,
      scope: reservation.scope,
      unit: reservation.unit,
      estimated_amount: reservation.estimate,
      created_at: new Date(reservation.createdAtMs).toISOString(),
      expired_at: new Date(nowMs).toISOString(),
      ttl_ms: reservation.expiresAtMs - reservation.createdAtMs,
      extensions_used: reservation.extensions,
    },
  };
}

/** `reservation.commit_overage` (GOV `EventDataCommitOverage`), when actual > estimate. */
export function overageDraft(
  reservation: Pick<ReservationFacts, 'reservationId' | 'tenant' | 'scope' | 'unit' | 'estimate'>,
  actual: number,
  policy: OveragePolicy,
  debtIncurred: number,
): EventDraft {
  return {
    type: 'reservation.commit_overage',
    tenant: reservation.tenant ?? tenantOfScope(reservation.scope),
    scope: reservation.scope,
    correlationId: reservation.reservationId,
    data: {
      reservation_id: reservation.reservationId,
      scope: reservation.scope,
      unit: reservation.unit,
      estimated_amount: reservation.estimate,
      actual_amount: actual,
      overage: actual - reservation.estimate,
      overage_policy: policy,
      debt_incurred: debtIncurred,
    },
  };
}
