import type { BudgetAuthority } from '../authority.ts';
import { SUBJECT_LEVELS } from '../protocol/enums.ts';
import { BudgetExceededError } from '../protocol/errors.ts';
import { affectedScopes } from '../protocol/scopes.ts';
import type { BalancesQuery, ReserveRequest, ReserveResponse } from '../protocol/types.ts';

/** Pages of balances read to find the subject's ledgers (200 rows each). */
const MAX_BALANCE_PAGES = 5;

/**
 * The largest amount every budgeted scope of the subject can hold in the request's unit right now:
 * the smallest `remaining` over the subject's scopes that have a ledger. Undefined when none has one.
 */
async function largestFit(request: ReserveRequest, authority: BudgetAuthority): Promise<number | undefined> {
  const scopes = new Set(affectedScopes(request.subject));
  // Filters match whole segments, so the subject's first level returns every ledger on its path.
  const level = SUBJECT_LEVELS.find((name) => request.subject[name] !== undefined);
  if (level === undefined) return undefined;
  let fit: number | undefined;
  let cursor: string | undefined;
  for (let page = 0; page < MAX_BALANCE_PAGES; page++) {
    const query: BalancesQuery = { [level]: request.subject[level], limit: 200 };
    if (cursor !== undefined) query.cursor = cursor;
    const response = await authority.getBalances(query);
    for (const balance of response.balances) {
      if (!scopes.has(balance.scopePath) || balance.remaining.unit !== request.estimate.unit) continue;
      fit = Math.min(fit ?? Number.POSITIVE_INFINITY, balance.remaining.amount);
    }
    if (response.hasMore !== true || response.nextCursor === undefined) break;
    cursor = response.nextCursor;
  }
  return fit;
}

/**
 * Emulates the partial-hold extension over a protocol server, which knows only full holds: reserve the
 * estimate; if that is BUDGET_EXCEEDED and the request allows a `minimum`, read what fits and retry
 * once at that amount (never above the estimate). When less than `minimum` fits, the retry asks for
 * `minimum`: the server then refuses with the first scope that cannot hold it, in scope order, which
 * is the error a ledger with partial holds gives (e.g. a deeper scope over its overdraft limit, not
 * the shallower one short of the full estimate). The retry reuses the idempotency key: the server
 * stored nothing for the refused attempt, and the caller's key then names the hold it got.
 */
export async function reserveWithPartialFallback(
  request: ReserveRequest,
  reserveOnce: (request: ReserveRequest) => Promise<ReserveResponse>,
  authority: BudgetAuthority,
): Promise<ReserveResponse> {
  const minimum = request.minimum;
  const partialAllowed =
    minimum !== undefined && minimum < request.estimate.amount && request.dryRun !== true;
  try {
    return await reserveOnce(request);
  } catch (error) {
    if (!partialAllowed || !BudgetExceededError.isInstance(error)) throw error;
    const fit = await largestFit(request, authority);
    if (fit !== undefined && fit >= request.estimate.amount) throw error;
    const amount = fit !== undefined && fit > minimum ? fit : minimum;
    const response = await reserveOnce({ ...request, estimate: { ...request.estimate, amount } });
    return { ...response, partial: true };
  }
}
