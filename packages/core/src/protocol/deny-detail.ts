import type { ReasonCode, Unit } from './enums.ts';

// `DenyDetail` (protocol extensions v0.1.26): why a request was denied and what would fix it. Sent with
// every DENY of decide, dry_run and observe mode, and in a 409's `details.deny_detail`.

/** **v0.1.26.** Operator-grade context of a denial. */
export interface DenyDetail {
  reasonCode: ReasonCode | string;
  /** The most specific scope that refused. */
  blockedByScope?: string;
  /** Remaining budget at that scope (may be negative); on BUDGET_EXCEEDED. */
  budgetRemaining?: number;
  /** What to change (≤ 512 chars). */
  suggestedFix?: string;
}

/** Wire form. */
export interface WireDenyDetail {
  reason_code: string;
  blocked_by_scope?: string;
  budget_remaining?: number;
  suggested_fix?: string;
}

/** What the ledger knows about a denial: its reason, and the scope that refused when there is one. */
export interface DenialFacts {
  reason: ReasonCode | string;
  scope?: string;
  /** Remaining at `scope`, in `unit`. */
  remaining?: number;
  /** What was asked for at `scope`. */
  requested?: number;
  unit?: Unit;
}

function fixFor(facts: DenialFacts): string | undefined {
  const where = facts.scope ?? 'the subject';
  const unit = facts.unit === undefined ? '' : ` ${facts.unit}`;
  switch (facts.reason) {
    case 'BUDGET_EXCEEDED': {
      const short =
        facts.requested === undefined || facts.remaining === undefined
          ? undefined
          : facts.requested - facts.remaining;
      return short === undefined
        ? `Fund ${where} or lower the estimate`
        : `Fund ${where} by at least ${short}${unit}, or lower the estimate to ${Math.max(0, facts.remaining!)}`;
    }
    case 'BUDGET_FROZEN':
      return `Unfreeze ${where} (budget status ACTIVE)`;
    case 'BUDGET_CLOSED':
      return `${where} is closed for good: charge another scope or create a new budget`;
    case 'BUDGET_NOT_FOUND':
      return `Create a budget on one of the subject's scopes in this unit`;
    case 'OVERDRAFT_LIMIT_EXCEEDED':
      return `Repay the debt of ${where} or raise its overdraft limit`;
    case 'DEBT_OUTSTANDING':
      return `Repay the outstanding debt of ${where} before new reservations`;
    case 'TENANT_CLOSED':
      return 'The tenant is closed: reopen it or use another tenant';
    default:
      return undefined;
  }
}

/** The `DenyDetail` of a denial: the reason, the blocking scope, its remaining (BUDGET_EXCEEDED) and a fix. */
export function denyDetailOf(facts: DenialFacts): DenyDetail {
  const detail: DenyDetail = { reasonCode: facts.reason };
  if (facts.scope !== undefined) detail.blockedByScope = facts.scope;
  if (facts.reason === 'BUDGET_EXCEEDED' && facts.remaining !== undefined) {
    detail.budgetRemaining = facts.remaining;
  }
  const fix = fixFor(facts);
  if (fix !== undefined) detail.suggestedFix = fix.slice(0, 512);
  return detail;
}

export function toWireDenyDetail(detail: DenyDetail): WireDenyDetail {
  const wire: WireDenyDetail = { reason_code: detail.reasonCode };
  if (detail.blockedByScope !== undefined) wire.blocked_by_scope = detail.blockedByScope;
  if (detail.budgetRemaining !== undefined) wire.budget_remaining = detail.budgetRemaining;
  if (detail.suggestedFix !== undefined) wire.suggested_fix = detail.suggestedFix;
  return wire;
}

export function fromWireDenyDetail(wire: WireDenyDetail): DenyDetail {
  const detail: DenyDetail = { reasonCode: wire.reason_code };
  if (typeof wire.blocked_by_scope === 'string') detail.blockedByScope = wire.blocked_by_scope;
  if (typeof wire.budget_remaining === 'number') detail.budgetRemaining = wire.budget_remaining;
  if (typeof wire.suggested_fix === 'string') detail.suggestedFix = wire.suggested_fix;
  return detail;
}

/** 409 codes that are budget denials: their error body carries `details.deny_detail`. */
const DENIAL_CODES: ReadonlySet<string> = new Set([
  'BUDGET_EXCEEDED',
  'BUDGET_FROZEN',
  'BUDGET_CLOSED',
  'OVERDRAFT_LIMIT_EXCEEDED',
  'DEBT_OUTSTANDING',
]);

/**
 * The wire `deny_detail` for a refused live reserve, built from its error's code and details (`scope`,
 * `remaining`, `requested`, which both ledgers set); undefined for errors that are not denials.
 */
export function denyDetailOfError(
  code: string,
  details: Record<string, unknown> | undefined,
): WireDenyDetail | undefined {
  if (!DENIAL_CODES.has(code)) return undefined;
  const number = (value: unknown) => (typeof value === 'number' ? value : undefined);
  return toWireDenyDetail(
    denyDetailOf({
      reason: code,
      ...(typeof details?.scope === 'string' ? { scope: details.scope } : {}),
      ...(number(details?.remaining) === undefined ? {} : { remaining: number(details?.remaining) }),
      ...(number(details?.requested) === undefined ? {} : { requested: number(details?.requested) }),
    }),
  );
}
