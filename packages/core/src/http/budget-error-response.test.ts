import { describe, expect, it } from 'vitest';
import {
  AuthorityUnavailableError,
  BudgetExceededError,
  NotFoundError,
  OverdraftLimitExceededError,
} from '../protocol/errors.ts';
import { budgetErrorResponse } from './budget-error-response.ts';

describe('budgetErrorResponse', () => {
  const exceeded = new BudgetExceededError('Insufficient budget in tenant:acme', {
    details: { scope: 'tenant:acme', remaining: 12, requested: 50 },
    retryAfterMs: 1_500,
  });

  it('answers a denial with 429, the scope, the remaining budget and Retry-After rounded up', () => {
    expect(budgetErrorResponse(exceeded)).toEqual({
      status: 429,
      headers: { 'Content-Type': 'application/json; charset=utf-8', 'Retry-After': '2' },
      body: {
        error: 'BUDGET_EXCEEDED',
        message: 'Insufficient budget in tenant:acme',
        scope: 'tenant:acme',
        remaining: 12,
        retryAfterSeconds: 2,
      },
    });
  });

  it('uses the configured denial status for every budget code', () => {
    expect(budgetErrorResponse(exceeded, { deniedStatus: 402 })?.status).toBe(402);
    expect(budgetErrorResponse(new OverdraftLimitExceededError('over'), { deniedStatus: 402 })?.status).toBe(
      402,
    );
  });

  it('omits Retry-After when the window reset is unknown', () => {
    const response = budgetErrorResponse(new BudgetExceededError('no', { details: { scope: 'tenant:a' } }));
    expect(response?.headers['Retry-After']).toBeUndefined();
    expect(response?.body).toEqual({ error: 'BUDGET_EXCEEDED', message: 'no', scope: 'tenant:a' });
  });

  it('maps an unreachable authority to 503 and other CyclesErrors to their status', () => {
    expect(budgetErrorResponse(new AuthorityUnavailableError('down'))?.status).toBe(503);
    expect(budgetErrorResponse(new NotFoundError('no budget'))?.status).toBe(404);
  });

  it('finds a CyclesError wrapped as a cause', () => {
    const wrapped = new Error('sdk middleware failed', { cause: exceeded });
    expect(budgetErrorResponse(wrapped)?.body.error).toBe('BUDGET_EXCEEDED');
  });

  it('returns undefined for foreign errors', () => {
    expect(budgetErrorResponse(new Error('boom'))).toBeUndefined();
    expect(budgetErrorResponse('text')).toBeUndefined();
  });
});
