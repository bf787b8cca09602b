import { CyclesError, type Ledger, TenantClosedError, UnauthorizedError } from '@cycles-guard/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiKeyRegistry } from '../api-keys.ts';

/** Longest a close waits for a tenant's in-flight webhook writes before it flips (a stuck one is swept later). */
const IN_FLIGHT_WAIT_MS = 10_000;
/** How often a tenant's status is read again for its keys (another server may have closed it). */
const RECHECK_MS = 5_000;

/**
 * What this server adds to the ledger's own guard of a closing or CLOSED tenant (the ledger refuses its
 * reserves, settlements and budget writes itself, atomically with the close):
 * - a CLOSED tenant's API keys are revoked (GOV Rule 1): every call made with one answers 401, reads
 *   included. Keys come from config and carry no status, so revocation follows the tenant's status: known
 *   at once here after a close through this server, at the first TENANT_CLOSED the ledger answers one of
 *   its keys, and within RECHECK_MS otherwise (a tenant first seen is read before its call goes on);
 * - while a close of the tenant runs here, its webhook writes (the one tenant write the ledger does not
 *   see) answer 409 TENANT_CLOSED at once, and the close waits for the ones already past this guard. What
 *   keeps every server's writes from leaving a subscription enabled is the routes' re-check of the status
 *   after the write and the cascade's read of the store after the flip; this only spares undone writes.
 */
export class TenantGuard {
  private readonly closing = new Set<string>();
  private readonly inFlight = new Map<string, number>();
  private readonly idle = new Map<string, Array<() => void>>();
  /** CLOSED tenants (terminal: never leaves). */
  private readonly closed = new Set<string>();
  /** When each tenant's status was last read for its keys. */
  private readonly checkedAt = new Map<string, number>();
  private keys: ApiKeyRegistry | undefined;

  constructor(private readonly ledger: Ledger) {}

  /** Refuses the tenant's webhook writes from now until `unlatch`; resolves once its in-flight ones ended. */
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

  /** Revokes the keys of a tenant that is now CLOSED. */
  revoke(tenant: string): void {
    this.closed.add(tenant);
  }

  /** The ids of the tenant's keys (for the cascade's events). */
  keyIds(tenant: string): string[] {
    return this.keys?.keyIdsOf(tenant) ?? [];
  }

  /** The tenants this server has keys of. */
  keyTenants(): Set<string> {
    return this.keys?.tenantsWithKeys() ?? new Set();
  }

  /** Registers the guard's hooks on the whole app. */
  register(app: FastifyInstance, keys: ApiKeyRegistry): void {
    this.keys = keys;
    const counted = new WeakMap<FastifyRequest, string>();
    app.addHook('preHandler', async (request) => {
      const tenant = keys.tenantOf(header(request));
      if (tenant === undefined) return;
      await this.refuseRevoked(tenant);
      if (request.method === 'GET' || request.method === 'HEAD') return;
      if (!(request.routeOptions.url ?? '').startsWith('/v1/webhooks')) return;
      if (this.closing.has(tenant)) throw latched(tenant);
      this.inFlight.set(tenant, (this.inFlight.get(tenant) ?? 0) + 1);
      counted.set(request, tenant);
    });
    // The ledger refused a write of a CLOSED tenant (closed through another server): revoke its keys.
    app.addHook('onError', async (request, _reply, error) => {
      if (!(error instanceof CyclesError) || error.code !== 'TENANT_CLOSED') return;
      const tenant = keys.tenantOf(header(request));
      if (tenant !== undefined && !this.closed.has(tenant) && (await this.isClosed(tenant))) {
        this.revoke(tenant);
      }
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

  /** 401 for a key of a CLOSED tenant. A tenant first seen is read now; later reads run off the call. */
  private async refuseRevoked(tenant: string): Promise<void> {
    const checked = this.checkedAt.get(tenant);
    const now = Date.now();
    if (checked === undefined) {
      this.checkedAt.set(tenant, now);
      if (await this.isClosed(tenant)) this.revoke(tenant);
    } else if (now - checked >= RECHECK_MS && !this.closed.has(tenant)) {
      this.checkedAt.set(tenant, now);
      // Off the call: its writes are refused by the ledger meanwhile; a failed read is retried next time.
      this.isClosed(tenant).then(
        (closed) => closed && this.revoke(tenant),
        () => this.checkedAt.delete(tenant),
      );
    }
    if (this.closed.has(tenant)) {
      throw new UnauthorizedError(
        `API key revoked: tenant ${tenant} is closed, which revoked its keys for good (GOV Rule 1); its objects stay readable with the admin key`,
        { details: { tenant, reason: 'KEY_REVOKED' } },
      );
    }
  }

  private async isClosed(tenant: string): Promise<boolean> {
    return (await this.ledger.getTenant?.(tenant))?.status === 'CLOSED';
  }
}

function header(request: FastifyRequest): string | undefined {
  const key = request.headers['x-cycles-api-key'];
  return Array.isArray(key) ? key[0] : key;
}

function latched(tenant: string): TenantClosedError {
  return new TenantClosedError(`Tenant ${tenant} is closed: its webhook subscriptions can only be read`, {
    details: { tenant },
  });
}
