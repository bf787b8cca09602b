import { CyclesError, type Ledger, type LedgerState, TenantClosedError } from '@cycles-guard/core';
import { type EventDraft, tenantOfScope } from '@cycles-guard/core/ledger-kit';
import type { Unit } from '@cycles-guard/core/protocol';
import type { WebhookDispatcher } from '../webhooks/dispatcher.ts';
import type { TenantGuard } from './tenant-guard.ts';

// GOV CASCADE SEMANTICS, Rule 1, with mode B's guarantees (the guard is up before the flip, the children
// follow it) on both ledgers. The ledgers refuse every settlement of a CLOSED tenant's reservations, the
// cascade's own included, so the drain runs just before the flip, behind this server's guard (see
// TenantGuard): the tenant's writes are refused and the ones in flight awaited, its live reservations
// released, then its status flipped to CLOSED, then its budgets closed and its subscriptions disabled.
// Re-closing a CLOSED tenant, or the startup sweep, completes the budgets and subscriptions left over
// without repeating an event; a hold that got past the guard (another process on the same Redis) is
// returned by the expiry sweep at its expiry + grace.

const REASON = 'tenant_closed';
/** Why the cascade's releases fail without stopping the close: the reservation settled or expired first. */
const SETTLED = new Set(['RESERVATION_FINALIZED', 'RESERVATION_EXPIRED', 'NOT_FOUND']);

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
  ) {}

  /** The correlation id of a close's events (the `tenant.closed` event carries it too). */
  static correlationId(tenant: string, requestId: string | undefined): string {
    return `tenant_close:${tenant}:${requestId ?? 'sweep'}`;
  }

  /**
   * A tenant PUT: `flip` stores the new settings. Closing drives what the tenant owns to its terminal
   * state (see `close`); a CLOSED tenant is never re-opened (a PUT replaces the settings whole, so one
   * without `status` would re-open it by accident).
   */
  async put(tenant: string, status: string | undefined, flip: () => Promise<void>, origin: CloseOrigin) {
    // One PUT of a tenant at a time here: one close's latch never ends another's, and no PUT read before
    // a close's flip re-opens the tenant after it.
    const previous = this.running.get(tenant) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.putNow(tenant, status, flip, origin));
    this.running.set(tenant, run);
    try {
      await run;
    } finally {
      if (this.running.get(tenant) === run) this.running.delete(tenant);
    }
  }

  private async putNow(
    tenant: string,
    status: string | undefined,
    flip: () => Promise<void>,
    origin: CloseOrigin,
  ) {
    if (status === 'CLOSED') return this.close(tenant, flip, origin);
    if ((await this.ledger.getTenant?.(tenant))?.status === 'CLOSED') {
      throw new TenantClosedError(
        `Tenant ${tenant} is closed for good: send status CLOSED (which completes its cascade) or leave it`,
        { details: { tenant, field: 'status' } },
      );
    }
    return flip();
  }

  /**
   * Closes `tenant`: `flip` sets its status to CLOSED; everything it owns is driven to its terminal state
   * around it. On an already-CLOSED tenant only what is left over is completed.
   */
  private async close(tenant: string, flip: () => Promise<void>, origin: CloseOrigin): Promise<void> {
    const wasClosed = (await this.ledger.getTenant?.(tenant))?.status === 'CLOSED';
    let released = new Map<string, number>();
    await this.guard.latch(tenant);
    try {
      if (!wasClosed) released = await this.drain(tenant);
      await flip();
    } finally {
      this.guard.unlatch(tenant);
    }
    await this.complete(tenant, released, origin);
  }

  /** The startup sweep: completes the cascade of every CLOSED tenant that owns a budget or a subscription. */
  async sweep(): Promise<number> {
    const owners = new Set<string>();
    for (const state of await this.ledger.listLedgers()) {
      const tenant = tenantOfScope(state.scope);
      if (tenant !== undefined && state.status !== 'CLOSED') owners.add(tenant);
    }
    await this.webhooks?.ready();
    for (const record of this.webhooks?.list() ?? []) {
      if (record.status !== 'DISABLED') owners.add(record.tenant_id);
    }
    let completed = 0;
    for (const tenant of owners) {
      if ((await this.ledger.getTenant?.(tenant))?.status !== 'CLOSED') continue;
      completed += await this.complete(tenant, new Map(), {});
    }
    return completed;
  }

  /** Releases the tenant's live reservations; returns what each budget (scope|unit) got back. */
  private async drain(tenant: string): Promise<Map<string, number>> {
    const live = [];
    let cursor: string | undefined;
    do {
      const page = await this.ledger.listReservations(
        { tenant, status: 'ACTIVE', limit: 100, ...(cursor === undefined ? {} : { cursor }) },
        { tenant },
      );
      live.push(...page.reservations);
      cursor = page.hasMore ? page.nextCursor : undefined;
    } while (cursor !== undefined);
    const released = new Map<string, number>();
    for (const reservation of live) {
      try {
        await this.ledger.release(
          reservation.reservationId,
          { idempotencyKey: `tenant-close-${reservation.reservationId}`, reason: REASON },
          { tenant },
        );
      } catch (error) {
        if (error instanceof CyclesError && SETTLED.has(error.code)) continue;
        throw error;
      }
      for (const scope of reservation.affectedScopes) {
        const key = `${scope}|${reservation.reserved.unit}`;
        released.set(key, (released.get(key) ?? 0) + reservation.reserved.amount);
      }
    }
    return released;
  }

  /** Closes the tenant's open budgets and disables its subscriptions, one event each; returns how many. */
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
    for (const record of this.webhooks?.list() ?? []) {
      if (record.tenant_id !== tenant || record.status === 'DISABLED') continue;
      await this.webhooks!.save({ ...record, status: 'DISABLED', updated_at: new Date().toISOString() });
      event('webhook.disabled_via_tenant_cascade', undefined, {
        subscription_id: record.subscription_id,
        ...(record.name === undefined ? {} : { name: record.name }),
        prior_status: record.status,
        new_status: 'DISABLED',
      });
    }
    this.ledger.events?.publish(drafts, { ...origin, actor: { type: 'admin' } });
    return drafts.length;
  }
}
