import type { CommitRequest, ExtendRequest, ReleaseRequest } from './types.ts';
import {
  validateBalancesQuery,
  validateCommit,
  validateDecide,
  validateEvent,
  validateExtend,
  validateListQuery,
  validateRelease,
  validateReservationId,
  validateReserve,
} from './validate.ts';

/**
 * Each runtime operation's input checks, in the order every authority runs them before anything changes
 * or is sent (a reservation id first, then the body). The memory ledger, the Redis ledger and the HTTP
 * authority all call these, so they refuse the same input with the same error.
 */
export const validateInput = Object.freeze({
  reserve: validateReserve,
  commit(reservationId: string, request: CommitRequest): void {
    validateReservationId(reservationId);
    validateCommit(request);
  },
  release(reservationId: string, request: ReleaseRequest): void {
    validateReservationId(reservationId);
    validateRelease(request);
  },
  extend(reservationId: string, request: ExtendRequest): void {
    validateReservationId(reservationId);
    validateExtend(request);
  },
  decide: validateDecide,
  event: validateEvent,
  reservationId: validateReservationId,
  balancesQuery: validateBalancesQuery,
  listQuery: validateListQuery,
});
