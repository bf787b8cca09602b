import type { Ledger } from '@cycles-guard/core';
import type { ProtocolEvent } from '@cycles-guard/core/webhooks';

/** Every event the ledger lists now, oldest first, through all its pages. */
export async function listAllEvents(ledger: Ledger): Promise<ProtocolEvent[]> {
  const events: ProtocolEvent[] = [];
  let cursor: string | undefined;
  do {
    const page = await ledger.events!.list({ sortDir: 'asc', limit: 100, ...(cursor ? { cursor } : {}) });
    events.push(...page.events);
    cursor = page.hasMore ? page.nextCursor : undefined;
  } while (cursor !== undefined);
  return events;
}
