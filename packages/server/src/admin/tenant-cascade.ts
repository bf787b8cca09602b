import { CyclesError, type Ledger, type LedgerState, TenantClosedError } from '@cycles-guard/core';
import { type EventDraft, tenantOfScope } from '@cycles-guard/core/ledger-kit';
import type { TenantClosing, TenantSettings, Unit } from '@cycles-guard/core/protocol';
import type { WebhookDispatcher } from '../webhooks/dispatcher.ts';
import type { SubscriptionRecord } from '../webhooks/subscription.ts';
import type { KeyRevocations } from './key-revocations.ts';
import type { TenantGuard } from './tenant-guard.ts';

// GOV CASCADE SEMANTICS, Rule 1. The flip and the drain are one atomic step on the ledger
// (`closeTenant`: mode A for the tenant and its reservations): the tenant reads CLOSED and every live hold
// of it is released in the same Lua call (Redis) or synchronous step (memory), so no reserve through any
// server lands between the two, and after it the ledger itself refuses the tenant's reserves,
// settlements and budget writes. Its keys are revoked with it (TenantGuard: 401 from then on). The
// children outside the ledger's step follow (mode B): budgets closed, subscriptions disabled, one event
// each under the close's correlation id. Re-closing a CLOSED tenant, or the startup sweep, completes
// what a cut-off close left over without repeating an event.

const REASON = 'tenant_closed';

/** The request a close came from: its events carry its ids. */
export interface CloseOrigin {
  requestId?: string;
  traceId?: string;
}

export class TenantCascade {
  /** The PUT running per tenant. */
  private readonly running = new Map<string, Promise<void>>();

  constructor(
    private readonly ledger: Ledger,
    private readonly guard: TenantGuard,
    private readonly webhooks: WebhookDispatcher | undefined,
    private readonly revocations: KeyRevocations,
  ) {}

  /** The correlation id of a close's events (the `tenant.closed` event carries it too). */
  static correlationId(tenant: string, requestId: string | undefined): string {
    return `tenant_close:${tenant}:${requestId ?? 'sweep'}`;
  }

  /**
   * A tenant PUT: stores `settings`. Closing drives what the tenant owns to its terminal state (see
   * `close`); a CLOSED tenant is never re-opened (a PUT replaces the settings whole, so one without
   * `status` would re-open it by accident).
   */
  async put(tenant: string, settings: TenantSettings, origin: CloseOrigin) {
    // One PUT of a tenant at a time here: no PUT read before a close's flip re-opens the tenant after it.
    const previous = this.running.get(tenant) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.putNow(tenant, settings, origin));
    this.running.set(tenant, run);
    try {
      await run;
    } finally {
      if (this.running.get(tenant) === run) this.running.delete(tenant);
    }
  }

  private async putNow(tenant: string, settings: TenantSettings, origin: CloseOrigin) {
    if (settings.status === 'CLOSED') return this.close(tenant, settings, origin);
    if ((await this.ledger.getTenant?.(tenant))?.status === 'CLOSED') {
      throw new TenantClosedError(
        `Tenant ${tenant} is closed for good: send status CLOSED (which completes its cascade) or leave it`,
        { details: { tenant, field: 'status' } },
      );
    }
    return this.ledger.setTenant(tenant, settings);
  }

  /**
   * Closes `tenant` with `settings` (status CLOSED): the ledger's atomic flip and drain, then the children
   * outside it. On an already-CLOSED tenant only what is left over is completed.
   */
  private async close(tenant: string, settings: TenantSettings, origin: CloseOrigin): Promise<void> {
    let closing: TenantClosing;
    // The latch only covers the tenant's writes the ledger does not guard (see TenantGuard).
    await this.guard.latch(tenant);
    try {
      closing = await this.flip(tenant, settings);
    } finally {
      this.guard.unlatch(tenant);
    }
    this.guard.revoke(tenant);
    await this.complete(tenant, releasedByBudget(closing), origin);
  }

  /** The ledger's atomic close; a ledger without one only flips (its holds then wait for their expiry). */
  private async flip(tenant: string, settings: TenantSettings): Promise<TenantClosing> {
    if (this.ledger.closeTenant !== undefined) return this.ledger.closeTenant(tenant, settings);
    await this.ledger.setTenant(tenant, settings);
    return { released: [] };
  }

  /**
   * The startup sweep: completes the cascade of every CLOSED tenant that owns an open budget or an enabled
   * subscription, and reports the keys of CLOSED tenants this server knows whose events were never
   * published.
   */
  async sweep(): Promise<number> {
    const owners = new Set<string>();
    for (const state of await this.ledger.listLedgers()) {
      const tenant = tenantOfScope(state.scope);
      if (tenant !== undefined && state.status !== 'CLOSED') owners.add(tenant);
    }
    for (const record of await this.storedSubscriptions()) {
      if (record.status !== 'DISABLED') owners.add(record.tenant_id);
    }
    let completed = 0;
    for (const tenant of new Set([...owners, ...this.guard.keyTenants()])) {
      const settings = await this.ledger.getTenant?.(tenant);
      if (settings?.status !== 'CLOSED') continue;
      // Re-run on a CLOSED owner, the ledger's close releases any hold a cut-off close left live (a tenant
      // with keys only has none: its close released them in the flip's own step).
      const closing = owners.has(tenant) ? await this.flip(tenant, settings) : { released: [] };
      completed += await this.complete(tenant, releasedByBudget(closing), {});
    }
    return completed;
  }

  /**
   * Closes the tenant's open budgets and disables its subscriptions, one event each, plus one per budget
   * the close released holds on and per key of the tenant not yet reported; returns how many events.
   */
  private async complete(
    tenant: string,
    released: Map<string, number>,
    origin: CloseOrigin,
  ): Promise<number> {
    const correlationId = TenantCascade.correlationId(tenant, origin.requestId);
    await this.webhooks?.ready();
    const drafts: EventDraft[] = [];
    const event = (type: EventDraft['type'], scope: string | undefined, data: Record<string, unknown>) =>
      drafts.push({
        type,
        tenant,
        ...(scope === undefined ? {} : { scope }),
        correlationId,
        data: { ...data, cascade_reason: REASON },
      });
    for (const state of await this.ledger.listLedgers()) {
      if (tenantOfScope(state.scope) !== tenant || state.status === 'CLOSED') continue;
      let closed: LedgerState;
      try {
        closed = await this.ledger.setLedgerStatus(state.scope, state.unit as Unit, 'CLOSED');
      } catch (error) {
        // Removed since the listing: nothing left to close.
        if (error instanceof CyclesError && error.code === 'NOT_FOUND') continue;
        throw error;
      }
      const budget = { ledger_id: closed.ledgerId, scope: closed.scope, unit: closed.unit };
      event('budget.closed_via_tenant_cascade', closed.scope, {
        ...budget,
        prior_status: state.status,
        new_status: 'CLOSED',
      });
      const amount = released.get(`${state.scope}|${state.unit}`) ?? 0;
      if (amount > 0) {
        event('reservation.released_via_tenant_cascade', closed.scope, {
          ...budget,
          prior_status: state.status,
          released_amount: amount,
        });
      }
    }
    for (const listed of await this.storedSubscriptions()) {
      if (listed.tenant_id !== tenant) continue;
      const record = await this.disable(listed);
      if (record === undefined) continue;
      event('webhook.disabled_via_tenant_cascade', undefined, {
        subscription_id: record.subscription_id,
        ...(record.name === undefined ? {} : { name: record.name }),
        prior_status: record.status,
        new_status: 'DISABLED',
      });
    }
    for (const keyId of await this.unreportedKeys(tenant)) {
      event('api_key.revoked_via_tenant_cascade', undefined, {
        key_id: keyId,
        prior_status: 'ACTIVE',
        new_status: 'REVOKED',
      });
    }
    this.ledger.events?.publish(drafts, { ...origin, actor: { type: 'admin' } });
    return drafts.length;
  }

  /**
   * Disables a stored subscription, compare-and-set: one changed meanwhile (a write that found the tenant
   * open) is read again, one deleted (a refused create undone) stays deleted. Answers the record it
   * disabled, undefined when there was nothing to disable.
   */
  private async disable(listed: SubscriptionRecord): Promise<SubscriptionRecord | undefined> {
    let record: SubscriptionRecord | undefined = listed;
    while (record !== undefined && record.status !== 'DISABLED') {
      const disabled = { ...record, status: 'DISABLED' as const, updated_at: new Date().toISOString() };
      if (await this.webhooks!.replace(record, disabled)) return record;
      const id: string = record.subscription_id;
      record = (await this.webhooks!.store.subscriptions()).find((s) => s.subscription_id === id);
    }
    return undefined;
  }

  /** The tenant's keys (this server's) whose revocation no close has reported yet, claimed now. */
  private async unreportedKeys(tenant: string): Promise<string[]> {
    try {
      return await this.revocations.claim(tenant, this.guard.keyIds(tenant));
    } catch {
      // Unclaimed: reported by a later re-close or sweep rather than twice; the other events go out now.
      return [];
    }
  }

  /**
   * The subscriptions as stored now, not as this server last cached them: read after the flip, they hold
   * every write that found the tenant open (one through another server included; see the webhook routes'
   * re-check after their write).
   */
  private async storedSubscriptions(): Promise<SubscriptionRecord[]> {
    if (this.webhooks === undefined) return [];
    await this.webhooks.ready();
    return this.webhooks.store.subscriptions();
  }
}

/** What the ledger's close released, per budget (`scope|unit`). */
function releasedByBudget(closing: TenantClosing): Map<string, number> {
  const released = new Map<string, number>();
  for (const reservation of closing.released) {
    for (const scope of reservation.scopes) {
      const key = `${scope}|${reservation.unit}`;
      released.set(key, (released.get(key) ?? 0) + reservation.amount);
    }
  }
  return released;
}
