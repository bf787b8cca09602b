import { CyclesError } from '../protocol/errors.ts';

/** Codes that mean "the budget said no", answered with the configured denial status. */
const DENIAL_CODES: ReadonlySet<string> = new Set([
  'BUDGET_EXCEEDED',
  'OVERDRAFT_LIMIT_EXCEEDED',
  'DEBT_OUTSTANDING',
  'BUDGET_FROZEN',
  'BUDGET_CLOSED',
]);

/** Options of `budgetErrorResponse`. */
export interface BudgetErrorResponseOptions {
  /**
   * Status for budget denials: `429 Too Many Requests` or `402 Payment Required`.
   * @default 429
   */
  deniedStatus?: 429 | 402;
}

/** JSON body of a budget error response. */
export interface BudgetErrorBody {
  /** The protocol error code, e.g. `BUDGET_EXCEEDED`. */
  error: string;
  message: string;
  /** The scope that refused, when known (e.g. `tenant:acme`). */
  scope?: string;
  /** What that scope had left, in its unit, when known. */
  remaining?: number;
  /** Seconds until the budget's window resets, when known. */
  retryAfterSeconds?: number;
}

/** A framework-neutral HTTP answer: adapters copy it onto their native response. */
export interface BudgetErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: BudgetErrorBody;
}

/**
 * Maps a cycles-guard error to an HTTP answer: budget denials → `deniedStatus` (with `Retry-After` when
 * the window resets at a known time), AuthorityUnavailableError → 503, other CyclesErrors → their own
 * status. Follows `cause` links; returns undefined for other errors, so the caller passes them on.
 */
export function budgetErrorResponse(
  error: unknown,
  options: BudgetErrorResponseOptions = {},
): BudgetErrorResponse | undefined {
  let cause = error;
  // Framework and SDK layers may wrap our error; look a few `cause` links deep.
  for (let depth = 0; depth < 5 && !CyclesError.isInstance(cause); depth++) {
    if (typeof cause !== 'object' || cause === null || !('cause' in cause)) return undefined;
    cause = cause.cause;
  }
  if (!CyclesError.isInstance(cause)) return undefined;
  return fromCyclesError(cause, options);
}

function fromCyclesError(error: CyclesError, options: BudgetErrorResponseOptions): BudgetErrorResponse {
  const denied = DENIAL_CODES.has(error.code);
  const status = denied
    ? (options.deniedStatus ?? 429)
    : error.code === 'AUTHORITY_UNAVAILABLE'
      ? 503
      : error.status;
  const body: BudgetErrorBody = { error: error.code, message: error.message };
  const scope = error.details?.scope;
  const remaining = error.details?.remaining;
  if (typeof scope === 'string') body.scope = scope;
  if (typeof remaining === 'number') body.remaining = remaining;
  const headers: Record<string, string> = { 'Content-Type': 'application/json; charset=utf-8' };
  if (error.retryAfterMs !== undefined && error.retryAfterMs >= 0) {
    // Retry-After takes whole seconds; round up so a client never retries before the reset.
    const seconds = Math.ceil(error.retryAfterMs / 1000);
    body.retryAfterSeconds = seconds;
    headers['Retry-After'] = String(seconds);
  }
  return { status, headers, body };
}
