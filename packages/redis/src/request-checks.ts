import { InvalidRequestError, type ReleaseRequest } from '@cycles-guard/core';

// The request checks of core's validator that core does not export (reservation ids, release bodies):
// the same rules and messages, so both ledgers refuse the same input the same way.

function checkString(value: unknown, field: string, max: number, min = 1): void {
  if (typeof value !== 'string')
    throw invalidField(field, 'must be a string', `pass a string of ${min}–${max} chars`);
  if (value.length < min || value.length > max) {
    throw invalidField(field, `must be ${min}–${max} chars (got ${value.length})`, 'shorten or fill it in');
  }
}

function invalidField(field: string, problem: string, fix: string): InvalidRequestError {
  return new InvalidRequestError(`${field} ${problem}: ${fix}`, { details: { field } });
}

/** The reservation id and release checks of core's validator (not exported by core). */
export function checkReservationId(reservationId: unknown): void {
  checkString(reservationId, 'reservationId', 128);
}

export function checkRelease(request: ReleaseRequest): void {
  if (typeof request !== 'object' || request === null) {
    throw invalidField('request', 'is required', 'pass a release request object');
  }
  checkString(request.idempotencyKey, 'idempotencyKey', 256);
  if (request.reason !== undefined) checkString(request.reason, 'reason', 256, 0);
}
