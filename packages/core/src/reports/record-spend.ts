import type { BudgetAuthority, CallContext } from '../authority.ts';
import type { CommitRequest, EventRequest } from '../protocol/types.ts';
import { type BoundMethod, wrapMethods } from '../wrap-methods.ts';
import { modelOfCharge, type SpendLog } from './spend-log.ts';

/** Reservations and events recently recorded: a replayed commit or event (same key) is not counted twice. */
class RecentIds {
  static readonly MAX = 100_000;
  readonly #ids = new Set<string>();

  /** True the first time an id is seen (among the last MAX). */
  add(id: string): boolean {
    if (this.#ids.has(id)) return false;
    if (this.#ids.size >= RecentIds.MAX) {
      const oldest = this.#ids.values().next();
      if (oldest.done !== true) this.#ids.delete(oldest.value);
    }
    this.#ids.add(id);
    return true;
  }
}

/**
 * The authority, recording every charge it confirms (commits and events) in `log`: a server's spend
 * report. A commit's subject is read back from its reservation after the answer, off the request's path.
 */
export function recordSpend<A extends BudgetAuthority>(
  authority: A,
  log: Pick<SpendLog, 'record'>,
  now = Date.now,
): A {
  const seen = new RecentIds();
  const commit = async (reservationId: string, request: CommitRequest, context?: CallContext) => {
    const response = await authority.commit(reservationId, request, context);
    if (seen.add(`r:${reservationId}`)) {
      authority.getReservation(reservationId, context).then(
        (reservation) =>
          log.record({
            timeMs: now(),
            subject: reservation.subject,
            unit: response.charged.unit,
            amount: response.charged.amount,
            model: modelOfCharge(reservation.action, request.metrics),
          }),
        () => {
          // Gone already (retention): the charge stands in the ledger, the report misses it.
        },
      );
    }
    return response;
  };
  const createEvent = async (request: EventRequest, context?: CallContext) => {
    const response = await authority.createEvent(request, context);
    if (seen.add(`e:${response.eventId}`)) {
      log.record({
        timeMs: now(),
        subject: request.subject,
        unit: request.actual.unit,
        amount: response.charged?.amount ?? request.actual.amount,
        model: modelOfCharge(request.action, request.metrics),
      });
    }
    return response;
  };
  const replaced = new Map<string, BoundMethod>([
    ['commit', commit as BoundMethod],
    ['createEvent', createEvent as BoundMethod],
  ]);
  return wrapMethods(authority, (name) => replaced.get(name));
}
