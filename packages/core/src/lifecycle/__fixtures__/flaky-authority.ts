import type { BudgetAuthority } from '../../authority.ts';
import { AuthorityUnavailableError } from '../../protocol/errors.ts';

type Operation = 'reserve' | 'commit' | 'release' | 'extend' | 'createEvent';

/** How a wrapped operation misbehaves for its first `times` calls. */
export interface Fault {
  times: number;
  /** `before`: fail without reaching the ledger; `after`: apply it, then lose the response. */
  when: 'before' | 'after';
}

/** A real authority whose chosen operations fail with AuthorityUnavailableError, and a call log. */
export function flakyAuthority(
  inner: BudgetAuthority,
  faults: Partial<Record<Operation, Fault>>,
): BudgetAuthority & { calls: { operation: Operation; key: string }[] } {
  const calls: { operation: Operation; key: string }[] = [];
  const remaining = new Map<Operation, number>(
    Object.entries(faults).map(([operation, fault]) => [operation as Operation, fault.times]),
  );
  async function run<T>(operation: Operation, key: string, call: () => Promise<T>): Promise<T> {
    calls.push({ operation, key });
    const left = remaining.get(operation) ?? 0;
    if (left <= 0) return call();
    remaining.set(operation, left - 1);
    if (faults[operation]?.when === 'after') await call();
    throw new AuthorityUnavailableError(`${operation} unavailable (test)`);
  }
  return {
    calls,
    reserve: (request, context) =>
      run('reserve', request.idempotencyKey, () => inner.reserve(request, context)),
    commit: (id, request, context) =>
      run('commit', request.idempotencyKey, () => inner.commit(id, request, context)),
    release: (id, request, context) =>
      run('release', request.idempotencyKey, () => inner.release(id, request, context)),
    extend: (id, request, context) =>
      run('extend', request.idempotencyKey, () => inner.extend(id, request, context)),
    createEvent: (request, context) =>
      run('createEvent', request.idempotencyKey, () => inner.createEvent(request, context)),
    decide: (request, context) => inner.decide(request, context),
    getBalances: (query, context) => inner.getBalances(query, context),
    getReservation: (id, context) => inner.getReservation(id, context),
    listReservations: (query, context) => inner.listReservations(query, context),
  };
}
