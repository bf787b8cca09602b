import type { Ledger } from '@cycles-guard/core';
import type { ProtocolEvent } from '@cycles-guard/core/webhooks';
import { listAllEvents } from './list-all-events.ts';

// The Redis ledger publishes events off the operation's path, in operation order. To read every event of
// the operations done so far, a marker event is made last (a denial in a tenant of its own) and awaited:
// once it is listed, everything published before it is too. The marker's tenant is left out.

const MARKER_TENANT = 'zz-settled-marker';
let markers = 0;

/** Every event of the operations done so far, oldest first (the marker left out). */
export async function settledEvents(ledger: Ledger): Promise<ProtocolEvent[]> {
  await ledger
    .createLedger({ scope: `tenant:${MARKER_TENANT}`, unit: 'TOKENS', allocated: 1 })
    .catch(() => undefined);
  const key = `settled-marker-${++markers}`;
  await ledger
    .reserve({
      idempotencyKey: key,
      subject: { tenant: MARKER_TENANT },
      action: { kind: 'marker', name: key },
      estimate: { unit: 'TOKENS', amount: 2 },
    })
    .catch(() => undefined);
  for (let waited = 0; waited < 5000; waited += 10) {
    const events = await listAllEvents(ledger);
    const marker = events.some(
      (event) => event.tenant_id === MARKER_TENANT && (event.data?.action as { name?: string })?.name === key,
    );
    if (marker) return events.filter((event) => event.tenant_id !== MARKER_TENANT);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('the marker event never showed: events are lost or stuck');
}
