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
  /** The reservation's id counter (the id string is rebuilt for a replay, not kept for up to a day). */
  sequence: number;
  entry: SubjectEntry;
  unit: Unit;
  amount: number;
  expiresAtMs: number;
  /** Present iff the decision was ALLOW_WITH_CAPS. */
  caps: Caps | undefined;
  partial: boolean;
  balances: Balance[] | undefined;
}

/**
 * Live reserves whose idempotency record was reused (nothing refers to them any more), for new
 * reserves to fill in instead of allocating: like the records, each would otherwise be copied into the
 * old generation and collected there.
 */
export class LiveReservePool {
  private readonly spare: LiveReserve[] = [];

  /** Takes back the response of a dropped idempotency record when it is a live reserve. */
  readonly reclaim = (response: unknown): void => {
    if (this.spare.length < MAX_SPARE && isLiveReserve(response as LiveReserve)) {
      this.spare.push(response as LiveReserve);
    }
  };

  /** A live reserve to fill in (every field is overwritten by the caller). */
  take(entry: SubjectEntry): LiveReserve {
    return (
      this.spare.pop() ?? {
        live: true,
        sequence: -1,
        entry,
        unit: 'USD_MICROCENTS',
        amount: 0,
        expiresAtMs: 0,
        caps: undefined,
        partial: false,
        balances: undefined,
      }
    );
  }
}

const MAX_SPARE = 2048;

/** True for the record of a live reserve (false for a stored dry_run or DENY response). */
export function isLiveReserve(stored: ReserveResponse | LiveReserve): stored is LiveReserve {
  return typeof stored === 'object' && stored !== null && (stored as LiveReserve).live === true;
}

/** The reserve response of a live hold; only `remainingTtlMs` differs between the first answer and replays. */
export function liveReserveResponse(
  live: LiveReserve,
  reservationId: string,
  remainingTtlMs: number,
): ReserveResponse {
  const response: ReserveResponse = {
    decision: live.caps === undefined ? 'ALLOW' : 'ALLOW_WITH_CAPS',
    affectedScopes: live.entry.scopes,
    reserved: { unit: live.unit, amount: live.amount },
    scopePath: live.entry.path,
    reservationId,
    expiresAtMs: live.expiresAtMs,
    remainingTtlMs,
  };
  if (live.caps !== undefined) response.caps = live.caps;
  if (live.partial) response.partial = true;
  if (live.balances !== undefined) response.balances = live.balances;
  return response;
}
