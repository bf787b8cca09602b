import type { BudgetAuthority } from '../authority.ts';
import type { SettlementStore } from '../lifecycle/outbox/store.ts';

/**
 * An authority whose real implementation is loaded on first use (e.g. an optional package imported
 * dynamically). A failed load is not cached, so a later call tries again; `close` before any use is a no-op.
 */
export function createLazyAuthority(load: () => Promise<BudgetAuthority>): BudgetAuthority {
  let pending: Promise<BudgetAuthority> | undefined;
  const get = (): Promise<BudgetAuthority> => {
    pending ??= load().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
  return {
    reserve: async (request, context) => (await get()).reserve(request, context),
    commit: async (id, request, context) => (await get()).commit(id, request, context),
    release: async (id, request, context) => (await get()).release(id, request, context),
    extend: async (id, request, context) => (await get()).extend(id, request, context),
    decide: async (request, context) => (await get()).decide(request, context),
    createEvent: async (request, context) => (await get()).createEvent(request, context),
    getBalances: async (query, context) => (await get()).getBalances(query, context),
    getReservation: async (id, context) => (await get()).getReservation(id, context),
    listReservations: async (query, context) => (await get()).listReservations(query, context),
    // The loaded authority's own outbox store, if it has one (else every call throws and the outbox
    // keeps to its file journal).
    createSettlementStore() {
      let store: Promise<SettlementStore> | undefined;
      const real = () => {
        store ??= get().then((authority) => {
          const own = authority.createSettlementStore?.();
          if (own === undefined) throw new Error('this authority has no outbox store of its own');
          return own;
        });
        store.catch(() => {
          store = undefined;
        });
        return store;
      };
      return {
        name: "the authority's outbox",
        put: async (entry, durable) => (await real()).put(entry, durable),
        remove: async (key) => (await real()).remove(key),
        list: async () => (await real()).list(),
      };
    },
    async close() {
      if (pending === undefined) return;
      const authority = await pending.catch(() => undefined);
      await authority?.close?.();
    },
  };
}
