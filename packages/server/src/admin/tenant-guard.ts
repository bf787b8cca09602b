import { type Ledger, TenantClosedError } from '@cycles-guard/core';
import { tenantOfScope } from '@cycles-guard/core/ledger-kit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiKeyRegistry } from '../api-keys.ts';

/** Longest a close waits for a tenant's in-flight writes before it drains (a stuck one expires later). */
const IN_FLIGHT_WAIT_MS = 10_000;

/**
 * Rule 2's mutation guard on this server, for the two paths the ledger does not guard itself:
 * - while a tenant is being closed, every write made with one of its API keys (reserve, commit, release,
 *   extend, decide, event, webhook) answers 409 TENANT_CLOSED, and the close waits for the writes already
 *   past this guard, so the drain that follows sees every hold the tenant will ever have here;
 * - admin budget writes (create, fund, freeze, unfreeze, update, remove) on a scope of a closing or
 *   CLOSED tenant answer 409 TENANT_CLOSED (the ledgers' admin operations do not look at the tenant).
 * Once the tenant reads CLOSED, the ledgers refuse its runtime writes themselves.
 */
export class TenantGuard {
  private readonly closing = new Set<string>();
  private readonly inFlight = new Map<string, number>();
  private readonly idle = new Map<string, Array<() => void>>();

  constructor(private readonly ledger: Ledger) {}

  /** Refuses the tenant's writes from now until `open` is called; resolves once its in-flight ones ended. */
  async latch(tenant: string): Promise<void> {
    this.closing.add(tenant);
    if ((this.inFlight.get(tenant) ?? 0) === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, IN_FLIGHT_WAIT_MS);
      const waiting = this.idle.get(tenant) ?? [];
      waiting.push(() => {
        clearTimeout(timer);
        resolve();
      });
      this.idle.set(tenant, waiting);
    });
  }

  /** Ends the latch (the tenant's status now guards it, or the close failed and it stays open). */
  unlatch(tenant: string): void {
    this.closing.delete(tenant);
  }

  /** Registers the guard's hooks on the whole app. */
  register(app: FastifyInstance, keys: ApiKeyRegistry): void {
    const counted = new WeakMap<FastifyRequest, string>();
    app.addHook('preHandler', async (request) => {
      if (request.method === 'GET' || request.method === 'HEAD') return;
      const route = request.routeOptions.url ?? '';
      if (route.startsWith('/v1/admin/budgets')) {
        const tenant = budgetTenantOf(request);
        if (tenant !== undefined && (this.closing.has(tenant) || (await this.isClosed(tenant)))) {
          throw refusal(tenant);
        }
        return;
      }
      if (route.startsWith('/v1/admin')) return;
      const key = request.headers['x-cycles-api-key'];
      const tenant = keys.tenantOf(Array.isArray(key) ? key[0] : key);
      if (tenant === undefined) return;
      if (this.closing.has(tenant)) throw refusal(tenant);
      this.inFlight.set(tenant, (this.inFlight.get(tenant) ?? 0) + 1);
      counted.set(request, tenant);
    });
    const done = async (request: FastifyRequest): Promise<void> => {
      const tenant = counted.get(request);
      if (tenant === undefined) return;
      counted.delete(request);
      const left = (this.inFlight.get(tenant) ?? 1) - 1;
      if (left > 0) {
        this.inFlight.set(tenant, left);
        return;
      }
      this.inFlight.delete(tenant);
      for (const wake of this.idle.get(tenant) ?? []) wake();
      this.idle.delete(tenant);
    };
    app.addHook('onResponse', done);
    app.addHook('onRequestAbort', done);
  }

  private async isClosed(tenant: string): Promise<boolean> {
    return (await this.ledger.getTenant?.(tenant))?.status === 'CLOSED';
  }
}

function refusal(tenant: string): TenantClosedError {
  return new TenantClosedError(
    `Tenant ${tenant} is closed: its budgets and reservations can no longer change`,
    {
      details: { tenant },
    },
  );
}

/** The tenant of an admin budget write's scope (`?scope=`, or the body's for a create). */
function budgetTenantOf(request: FastifyRequest): string | undefined {
  const query = request.query as Record<string, unknown>;
  const body = request.body as Record<string, unknown> | undefined;
  const scope = typeof query.scope === 'string' ? query.scope : body?.scope;
  return typeof scope === 'string' ? tenantOfScope(scope.toLowerCase()) : undefined;
}
