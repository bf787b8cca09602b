import { CyclesError, type Ledger } from '@cycles-guard/core';
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
  const bound = new Map<PropertyKey, unknown>();
  const target = ledger;
  // The proxy's own target is an empty shadow: a ledger's frozen own methods (e.g. one built with
  // Object.create) would otherwise forbid answering a wrapped or bound one (a Proxy invariant).
  return new Proxy(Object.create(null) as typeof ledger, {
    has: (_shadow, property) => property in target,
    get(_shadow, property) {
      const cached = bound.get(property);
      if (cached !== undefined) return cached;
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => Promise<unknown>;
      const operation = String(property);
      const wrapped = MEASURED.has(operation)
        ? async (...args: unknown[]) => {
            const started = performance.now();
            try {
              const result = await method.apply(target, args);
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
        : method.bind(target);
      bound.set(property, wrapped);
      return wrapped;
    },
  });
}
