import type { Unit } from '../protocol/enums.ts';
import type { Balance, Caps, ReserveResponse } from '../protocol/types.ts';
import type { SubjectEntry } from './subject-cache.ts';

/**
 * What the idempotency record of a live reserve keeps: the outcome's values, from which the response is
 * rebuilt for the caller and for every replay (one small object retained instead of a response, its
 * amount and a defensive copy).
 */
export class LiveReserve {
  constructor(
    readonly reservationId: string,
    readonly entry: SubjectEntry,
    readonly unit: Unit,
    readonly amount: number,
    readonly expiresAtMs: number,
    /** Present iff the decision was ALLOW_WITH_CAPS. */
    readonly caps: Caps | undefined,
    readonly partial: boolean,
    readonly balances: Balance[] | undefined,
  ) {}
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
