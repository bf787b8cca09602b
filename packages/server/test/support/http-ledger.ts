import { type BudgetAuthority, createHttpAuthority, type Ledger } from '@cycles-guard/core';
import type { Clock } from '@cycles-guard/core/ledger-kit';
import type { CallContext } from '@cycles-guard/core/protocol';
import { createAdminClient } from '../../src/admin/client.ts';
import type { LedgerStoreConfig } from '../../src/config.ts';
import { type CyclesServer, startCyclesServer } from '../../src/server.ts';
import type { ContractRecorder } from './contract.ts';

export const ADMIN_KEY = 'admin-key-for-tests-0123456789';
const TENANT = /^[a-zA-Z0-9_.-]{1,128}$/;
const FALLBACK_TENANT = 'acme';

/** A `Ledger` whose every operation goes over HTTP to a real server, plus that server. */
export interface HttpLedger extends Ledger {
  server: CyclesServer;
}

function tenantName(value: string | undefined): string | undefined {
  return value !== undefined && TENANT.test(value) ? value.toLowerCase() : undefined;
}

/**
 * Starts `cycles-guard-server` over a fresh ledger (memory, or Redis under a fresh key prefix) driven by `clock` and returns a `Ledger` that
 * reaches it only through HTTP: runtime operations through `createHttpAuthority` with the API key of
 * the tenant the call belongs to (the context's, else the subject's or query's, else the reservation
 * owner's), provisioning through the admin endpoints. Keys are issued per tenant on first use.
 */
export async function startHttpLedger(
  clock: Clock,
  recorder: ContractRecorder,
  ledger: LedgerStoreConfig = { type: 'memory' },
): Promise<HttpLedger> {
  const server = await startCyclesServer({
    port: 0,
    clock,
    ledger,
    adminApiKey: ADMIN_KEY,
    logLevel: 'silent',
  });
  const admin = createAdminClient({ baseUrl: server.url, adminApiKey: ADMIN_KEY, fetch: recorder.fetch });
  const authorities = new Map<string, Promise<BudgetAuthority>>();
  const owners = new Map<string, string>();

  const authorityFor = (tenant: string | undefined): Promise<BudgetAuthority> => {
    const name = tenantName(tenant) ?? FALLBACK_TENANT;
    let authority = authorities.get(name);
    if (authority === undefined) {
      authority = admin
        .issueApiKey(name)
        .then((apiKey) =>
          createHttpAuthority({ baseUrl: server.url, apiKey, retries: 0, fetch: recorder.fetch }),
        );
      authorities.set(name, authority);
    }
    return authority;
  };
  const ownerOf = (id: string, context?: CallContext) => context?.tenant ?? owners.get(id);

  return {
    server,
    async reserve(request, context) {
      const tenant = context?.tenant ?? request.subject?.tenant;
      const response = await (await authorityFor(tenant)).reserve(request);
      if (response.reservationId !== undefined) {
        owners.set(response.reservationId, tenantName(tenant) ?? FALLBACK_TENANT);
      }
      return response;
    },
    commit: async (id, request, context) => (await authorityFor(ownerOf(id, context))).commit(id, request),
    release: async (id, request, context) => (await authorityFor(ownerOf(id, context))).release(id, request),
    extend: async (id, request, context) => (await authorityFor(ownerOf(id, context))).extend(id, request),
    getReservation: async (id, context) => (await authorityFor(ownerOf(id, context))).getReservation(id),
    decide: async (request, context) =>
      (await authorityFor(context?.tenant ?? request.subject?.tenant)).decide(request),
    createEvent: async (request, context) =>
      (await authorityFor(context?.tenant ?? request.subject?.tenant)).createEvent(request),
    getBalances: async (query, context) =>
      (await authorityFor(context?.tenant ?? query.tenant)).getBalances(query),
    listReservations: async (query, context) =>
      (await authorityFor(context?.tenant ?? query.tenant)).listReservations(query),
    createLedger: (definition) => admin.createLedger(definition),
    fund: (request) => admin.fund(request),
    setLedgerStatus: (scope, unit, status) => admin.setLedgerStatus(scope, unit, status),
    updateLedger: (scope, unit, changes) => admin.updateLedger(scope, unit, changes),
    removeLedger: (scope, unit) => admin.removeLedger(scope, unit),
    getLedger: (scope, unit) => admin.getLedger(scope, unit),
    listLedgers: () => admin.listLedgers(),
    addTemplate: (template) => admin.addTemplate(template),
    setTenant: (tenant, settings) => admin.setTenant(tenant, settings),
    sweepExpired: () => admin.sweepExpired(),
    templateLedgerCounts: () => admin.templateLedgerCounts(),
    close: () => server.close(),
  };
}
