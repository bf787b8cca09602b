import { CyclesError, type Ledger } from '@cycles-guard/core';
import { wrapMethods } from '@cycles-guard/core/ledger-kit';
import type { RecentActivity } from './recent-activity.ts';
import type { ServerMetrics } from './server-metrics.ts';

/** Runtime operations measured (provisioning is rare and not on a request's budget path). */
const MEASURED = new Set([
  'reserve',
  'commit',
  'release',
  'extend',
  'decide',
  'createEvent',
  'getBalances',
  'getReservation',
  'listReservations',
]);

/** Notes an outcome for the dashboard; a request too malformed to describe is not noted, never a 500. */
function noting(note: () => void): void {
  try {
    note();
  } catch {
    // The ledger's own answer (its 400 naming the field) is what the caller gets.
  }
}

/**
 * The ledger as the routes see it: each runtime operation timed and counted, reserve refusals and
 * partial holds noted for the dashboard. The ledger's own methods are bound once (private fields).
 */
export function observeLedger<L extends Ledger>(
  ledger: L,
  metrics: ServerMetrics,
  activity: RecentActivity,
): L {
  return wrapMethods(ledger, (operation, method) =>
    MEASURED.has(operation)
      ? async (...args: unknown[]) => {
          const started = performance.now();
          try {
            const result = await method(...args);
            metrics.ledgerOperation(operation, 'ok', (performance.now() - started) / 1000);
            if (operation === 'reserve') noting(() => activity.reserved(args[0], result));
            return result;
          } catch (error) {
            const code = CyclesError.isInstance(error) ? error.code : 'INTERNAL_ERROR';
            metrics.ledgerOperation(operation, code, (performance.now() - started) / 1000);
            if (operation === 'reserve') noting(() => activity.refused(args[0], code, error));
            throw error;
          }
        }
      : undefined,
  );
}
