import { createHash } from 'node:crypto';
import { InvalidRequestError } from '@cycles-guard/core';

/** Parameters that do not select rows, so a cursor stays valid when they change (spec: `include`). */
const NOT_FILTERS: ReadonlySet<string> = new Set(['cursor', 'limit', 'include']);

/** The filters of a list request, canonical: sorted, blank values dropped (the spec treats them as unset). */
function filtersOf(params: URLSearchParams): string {
  return [...params]
    .filter(([name, value]) => !NOT_FILTERS.has(name) && value.trim() !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`)
    .join('&');
}

function checksum(ledgerCursor: string, filters: string): string {
  return createHash('sha256')
    .update(`cycles-cursor-v1\0${filters}\0${ledgerCursor}`)
    .digest('base64url')
    .slice(0, 12);
}

/**
 * The ledger's page cursor with a checksum of the filters it was issued under, so a cursor that no
 * server issued (`cursor=garbage`) or that is reused under other filters is a 400 naming `cursor`, not
 * a silently empty or wrong page. A checksum, not a secret: any instance on the same ledger opens it.
 */
export function sealCursor(ledgerCursor: string | undefined, params: URLSearchParams): string | undefined {
  return ledgerCursor === undefined
    ? undefined
    : `${ledgerCursor}.${checksum(ledgerCursor, filtersOf(params))}`;
}

/** The ledger cursor inside a sealed one; undefined when none was sent. Throws 400 naming `cursor`. */
export function openCursor(params: URLSearchParams): string | undefined {
  const sealed = params.get('cursor');
  if (sealed === null || sealed.trim() === '') return undefined;
  const dot = sealed.lastIndexOf('.');
  const ledgerCursor = sealed.slice(0, dot);
  if (dot <= 0 || sealed.slice(dot + 1) !== checksum(ledgerCursor, filtersOf(params))) {
    throw new InvalidRequestError(
      'cursor is not a cursor this server issued for these filters: pass next_cursor from the previous page, with the same filters',
      { details: { field: 'cursor' } },
    );
  }
  return ledgerCursor;
}
