import type { Unit } from '../protocol/enums.ts';
import type { Balance, Caps, ReserveResponse } from '../protocol/types.ts';
import type { SubjectEntry } from './subject-cache.ts';

/**
 * What the idempotency record of a live reserve keeps: the outcome's values, from which the response is
 * rebuilt for the caller and for every replay (one small object retained instead of a response, its
 * amount and a defensive copy). A plain object, not a class: literals are the cheapest to build.
 */
export interface LiveReserve {
  /** Tells it apart from a stored dry_run/DENY response in the same idempotency space. */
  readonly live: true;
  readonly reservationId: string;
  readonly entry: SubjectEntry;
  readonly unit: Unit;
  readonly amount: number;
  readonly expiresAtMs: number;
  /** Present iff the decision was ALLOW_WITH_CAPS. */
  readonly caps: Caps | undefined;
  readonly partial: boolean;
  readonly balances: Balance[] | undefined;
}

/** True for the record of a live reserve (false for a stored dry_run or DENY response). */
export function isLiveReserve(stored: ReserveResponse | LiveReserve): stored is LiveReserve {
  return (stored as LiveReserve).live === true;
}

/** The reserve response of a live hold; only `remainingTtlMs` differs between the first answer and replays. */
export function liveReserveResponse(live: LiveReserve, remainingTtlMs: number): ReserveResponse {
  const response: ReserveResponse = {
    decision: live.caps === undefined ? 'ALLOW' : 'ALLOW_WITH_CAPS',
    affectedScopes: live.entry.scopes,
    reserved: { unit: live.unit, amount: live.amount },
    scopePath: live.entry.path,
    reservationId: live.reservationId,
    expiresAtMs: live.expiresAtMs,
    remainingTtlMs,
  };
  if (live.caps !== undefined) response.caps = live.caps;
  if (live.partial) response.partial = true;
  if (live.balances !== undefined) response.balances = live.balances;
  return response;
}
