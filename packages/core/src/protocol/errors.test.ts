import { describe, expect, it } from 'vitest';
import { ErrorCode, PROTOCOL_ERROR_CODES } from './enums.ts';
import {
  BudgetExceededError,
  CyclesError,
  ERROR_STATUS,
  errorForCode,
  InvalidRequestError,
  invalid,
  ReservationExpiredError,
} from './errors.ts';

describe('CyclesError', () => {
  it('carries the code, the protocol status and details', () => {
    const error = new BudgetExceededError('Insufficient budget for tenant:acme', {
      details: { scope: 'tenant:acme' },
    });
    expect(error.code).toBe('BUDGET_EXCEEDED');
    expect(error.status).toBe(409);
    expect(error.name).toBe('BudgetExceededError');
    expect(error.toJSON()).toEqual({
      error: 'BUDGET_EXCEEDED',
      message: 'Insufficient budget for tenant:acme',
      details: { scope: 'tenant:acme' },
    });
  });

  it('recognises errors by brand, so checks survive duplicate installs', () => {
    // A structurally identical error from "another copy" of the package: same global symbol brand.
    const foreign = Object.assign(new Error('x'), { code: 'BUDGET_EXCEEDED' });
    Object.defineProperty(foreign, Symbol.for('cycles-guard.error'), { value: true });
    expect(CyclesError.isInstance(foreign)).toBe(true);
    expect(BudgetExceededError.isInstance(foreign)).toBe(true);
    expect(ReservationExpiredError.isInstance(foreign)).toBe(false);
    expect(CyclesError.isInstance(new Error('plain'))).toBe(false);
    expect(CyclesError.isInstance(null)).toBe(false);
  });

  it('maps every protocol error code to its HTTP status and typed class', () => {
    expect(ERROR_STATUS.RESERVATION_EXPIRED).toBe(410);
    expect(ERROR_STATUS.UNIT_MISMATCH).toBe(400);
    expect(ERROR_STATUS.LIMIT_EXCEEDED).toBe(429);
    for (const code of PROTOCOL_ERROR_CODES) {
      const error = errorForCode(code, 'm');
      expect(error.code).toBe(code);
      expect(CyclesError.isInstance(error)).toBe(true);
    }
    expect(errorForCode(ErrorCode.RESERVATION_EXPIRED, 'gone')).toBeInstanceOf(ReservationExpiredError);
  });

  it('builds validation errors that name the field and the fix', () => {
    const error = invalid('estimate.amount', 'must be a non-negative integer', 'pass whole microcents');
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error.message).toBe('estimate.amount must be a non-negative integer: pass whole microcents');
    expect(error.details).toEqual({ field: 'estimate.amount' });
  });
});
