import type { BudgetAuthority } from '../authority.ts';
import { wrapMethods } from '../wrap-methods.ts';
import type { Instruments } from './instruments.ts';
import { CYCLES } from './names.ts';

/** Authority operations whose round trip is measured. */
const TIMED = new Set(['reserve', 'commit', 'release', 'extend', 'createEvent', 'decide']);

/** Latest round trips per reservation id, read once by the span of that reservation. */
export class LedgerLatencies {
  // Bounded: an entry nobody reads (a reservation whose events nobody emits) cannot pile up.
  static readonly MAX = 10_000;
  readonly #reserve = new Map<string, number>();
  readonly #settle = new Map<string, number>();

  record(operation: string, reservationId: string | undefined, ms: number): void {
    if (reservationId === undefined || reservationId === '') return;
    const map = operation === 'reserve' ? this.#reserve : this.#settle;
    if (operation !== 'reserve' && operation !== 'commit' && operation !== 'release') return;
    if (map.size >= LedgerLatencies.MAX) map.clear();
    map.set(reservationId, ms);
  }

  takeReserve(reservationId: string): number | undefined {
    return take(this.#reserve, reservationId);
  }

  takeSettle(reservationId: string): number | undefined {
    return take(this.#settle, reservationId);
  }
}

function take(map: Map<string, number>, key: string): number | undefined {
  const value = map.get(key);
  if (value !== undefined) map.delete(key);
  return value;
}

function reservationIdOf(operation: string, args: unknown[], result: unknown): string | undefined {
  if (operation === 'reserve') return (result as { reservationId?: string } | undefined)?.reservationId;
  return typeof args[0] === 'string' ? args[0] : undefined;
}

/**
 * The authority as the lifecycle sees it with telemetry on: every runtime operation's round trip goes
 * to the `cycles.ledger.duration` histogram and, per reservation, to its span. Everything else is the
 * authority's own method, bound to it (class ledgers keep private fields).
 */
export function timeAuthority(
  authority: BudgetAuthority,
  instruments: Instruments,
  latencies: LedgerLatencies,
): BudgetAuthority {
  return wrapMethods(authority, (operation, method) =>
    TIMED.has(operation)
      ? async (...args: unknown[]) => {
          const started = performance.now();
          let outcome = 'error';
          try {
            const result = await method(...args);
            outcome = 'ok';
            latencies.record(
              operation,
              reservationIdOf(operation, args, result),
              performance.now() - started,
            );
            return result;
          } finally {
            instruments.ledgerDuration.record((performance.now() - started) / 1000, {
              [CYCLES.operation]: operation,
              [CYCLES.outcome]: outcome,
            });
          }
        }
      : undefined,
  );
}
