// The backends a campaign runs against, behind one shape: runtime calls as a tenant, provisioning on
// the ledger itself (not the attacked surface), a manual clock, and a count of 5xx answers.

import { randomBytes } from 'node:crypto';
import {
  type BudgetAuthority,
  type CyclesServer,
  createAdminClient,
  createHttpAuthority,
  createMemoryLedger,
  createRedisLedger,
  type Ledger,
  ManualClock,
  startCyclesServer,
} from './packages.ts';

export interface Target {
  /** e.g. `memory`, `redis`, `http over memory`. */
  label: string;
  over: 'embedded' | 'http';
  clock: ManualClock;
  /** The runtime protocol as `tenant` sees it (its API key over HTTP, its call context embedded). */
  authority(tenant: string): Promise<BudgetAuthority>;
  /** Provisioning and sweeps on the ledger behind the target. */
  admin: Ledger;
  /** 5xx answers seen so far (HTTP only). */
  serverErrors(): number;
  /** The server's base URL (HTTP only), for raw requests. */
  url?: string;
  /** An API key of `tenant` (HTTP only), for raw requests. */
  apiKey?(tenant: string): Promise<string>;
  close(): Promise<void>;
}

/** Every runtime operation of `ledger`, called with `{ tenant }` as the call context. */
export function asTenant(ledger: Ledger, tenant: string): BudgetAuthority {
  const context = { tenant };
  return {
    reserve: (request) => ledger.reserve(request, context),
    commit: (id, request) => ledger.commit(id, request, context),
    release: (id, request) => ledger.release(id, request, context),
    extend: (id, request) => ledger.extend(id, request, context),
    decide: (request) => ledger.decide(request, context),
    createEvent: (request) => ledger.createEvent(request, context),
    getBalances: (query) => ledger.getBalances(query, context),
    getReservation: (id) => ledger.getReservation(id, context),
    listReservations: (query) => ledger.listReservations(query, context),
  };
}

function embedded(label: string, ledger: Ledger, clock: ManualClock): Target {
  const views = new Map<string, BudgetAuthority>();
  return {
    label,
    over: 'embedded',
    clock,
    admin: ledger,
    async authority(tenant) {
      const view = views.get(tenant) ?? asTenant(ledger, tenant);
      views.set(tenant, view);
      return view;
    },
    serverErrors: () => 0,
    close: async () => ledger.close?.(),
  };
}

/** The embedded memory ledger on a manual clock, with no background sweeper. */
export function memoryTarget(): Target {
  const clock = new ManualClock();
  return embedded('memory', createMemoryLedger({ clock, sweepIntervalMs: 0 }), clock);
}

/** A fresh Redis ledger (its own key prefix unless one is given) on a manual clock, no sweeper. */
export function redisTarget(url: string, keyPrefix = freshPrefix(), clock = new ManualClock()): Target {
  return embedded('redis', createRedisLedger({ url, keyPrefix, clock, sweepIntervalMs: 0 }), clock);
}

export function freshPrefix(): string {
  return `torture:${randomBytes(4).toString('hex')}:`;
}

/**
 * `cycles-guard-server` on a loopback port over `ledger`, reached through `createHttpAuthority` with one
 * API key per tenant (issued through the admin endpoint) and no client retries, so every answer counts.
 */
export async function httpTarget(label: string, ledger: Ledger, clock: ManualClock): Promise<Target> {
  const adminApiKey = randomBytes(16).toString('hex');
  const server: CyclesServer = await startCyclesServer({
    port: 0,
    ledgerInstance: ledger,
    adminApiKey,
    logLevel: 'silent',
  });
  let fiveXx = 0;
  const counting: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    if (response.status >= 500) fiveXx += 1;
    return response;
  };
  const admin = createAdminClient({ baseUrl: server.url, adminApiKey });
  const keys = new Map<string, Promise<string>>();
  const authorities = new Map<string, Promise<BudgetAuthority>>();
  const apiKey = (tenant: string) => {
    const key = keys.get(tenant) ?? admin.issueApiKey(tenant);
    keys.set(tenant, key);
    return key;
  };
  return {
    label,
    over: 'http',
    clock,
    admin: ledger,
    url: server.url,
    apiKey,
    authority(tenant) {
      let authority = authorities.get(tenant);
      if (authority === undefined) {
        authority = apiKey(tenant).then((key) =>
          createHttpAuthority({
            baseUrl: server.url,
            apiKey: key,
            retries: 0,
            timeoutMs: 30_000,
            fetch: counting,
          }),
        );
        authorities.set(tenant, authority);
      }
      return authority;
    },
    /** Raw probes count their own 5xx; this is the authority's. */
    serverErrors: () => fiveXx,
    async close() {
      await server.close();
      await ledger.close?.();
    },
  };
}

/** The server over a fresh memory ledger on a manual clock. */
export function httpOverMemory(): Promise<Target> {
  const clock = new ManualClock();
  return httpTarget('http over memory', createMemoryLedger({ clock, sweepIntervalMs: 0 }), clock);
}

/** The server over a fresh Redis ledger on a manual clock. */
export function httpOverRedis(url: string): Promise<Target> {
  const clock = new ManualClock();
  const ledger = createRedisLedger({ url, keyPrefix: freshPrefix(), clock, sweepIntervalMs: 0 });
  return httpTarget('http over redis', ledger, clock);
}
