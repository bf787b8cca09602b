import { invalid } from '../protocol/errors.ts';

// Page cursors for balances and reservation lists: the same codec on every ledger, so a cursor one
// ledger issued pages the same list on another, and a cursor no ledger issued is a 400 everywhere.

/**
 * A page cursor: the next offset and a check of it (base 36), so a cursor no ledger issued
 * (`cursor=garbage`) is refused rather than read as some far offset and answered with an empty page.
 */
function cursorOf(offset: number): string {
  return `${offset.toString(36)}-${cursorCheck(offset)}`;
}

function cursorCheck(offset: number): string {
  return ((Math.imul(offset ^ 0x5bd1e995, 2654435761) >>> 0) % 1296).toString(36).padStart(2, '0');
}

/** The offset of a cursor {@link page} issued (0 for none); 400 naming `cursor` for anything else. */
export function decodeCursor(cursor: unknown): number {
  if (cursor === undefined || cursor === '') return 0;
  if (typeof cursor !== 'string') throw invalid('cursor', 'must be a string', 'pass nextCursor as given');
  const dash = cursor.indexOf('-');
  const offset = dash > 0 && dash <= 11 ? Number.parseInt(cursor.slice(0, dash), 36) : Number.NaN;
  if (!Number.isSafeInteger(offset) || offset < 0 || cursorOf(offset) !== cursor) {
    throw invalid('cursor', 'is not a cursor this ledger issued', 'pass nextCursor from the previous page');
  }
  return offset;
}

/** One page of `items` from `offset`, with the cursor of the next page. */
export function page<T>(
  items: T[],
  offset: number,
  limit: number,
): { items: T[]; nextCursor?: string; hasMore: boolean } {
  const slice = items.slice(offset, offset + limit);
  const hasMore = offset + limit < items.length;
  return hasMore
    ? { items: slice, nextCursor: cursorOf(offset + limit), hasMore }
    : { items: slice, hasMore };
}

/** Code-unit order of two strings (what the ledgers sort scopes, units and ids by). */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
