import { InvalidRequestError } from '@cycles-guard/core';

// Shared readers of the cross-plane list parameters (GOV: `limit` 1–100 default 50, ISO `from`/`to`).

function fail(field: string, problem: string): never {
  throw new InvalidRequestError(`${field} ${problem}`, { details: { field } });
}

/** A non-blank parameter, or undefined (the spec treats blank as unset). */
export function param(params: URLSearchParams, name: string): string | undefined {
  const value = params.get(name);
  return value === null || value.trim() === '' ? undefined : value;
}

/** `limit`: an integer from 1 to 100, default 50. */
export function limitOf(params: URLSearchParams): number {
  const value = param(params, 'limit');
  if (value === undefined) return 50;
  const limit = Number(value);
  if (!/^\d+$/.test(value) || limit < 1 || limit > 100) fail('limit', 'must be an integer from 1 to 100');
  return limit;
}

/** An ISO 8601 date-time parameter as ms since the epoch. */
export function timeOf(params: URLSearchParams, name: string): number | undefined {
  const value = param(params, name);
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(ms)) {
    fail(name, 'must be an ISO 8601 date-time, e.g. 2026-01-01T00:00:00Z');
  }
  return ms;
}
