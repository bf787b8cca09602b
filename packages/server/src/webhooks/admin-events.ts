import type { Ledger } from '@cycles-guard/core';
import { type EventDraft, SYSTEM_TENANT, tenantOfScope } from '@cycles-guard/core/ledger-kit';
import type { Unit } from '@cycles-guard/core/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TenantCascade } from '../admin/tenant-cascade.ts';
import type { TenantCreations } from '../admin/tenant-creations.ts';
import { fromWireTenantSettings, toWireLedgerState, toWireTenantSettings } from '../admin/wire.ts';

// The budget.* and tenant.* lifecycle events the admin API causes, read from each successful admin
// answer (the ledger's state after the change) and, for a budget PATCH or a tenant PUT, from the target
// as it was just before (read in preHandler), so the admin routes themselves stay as they are.

const FUNDING_EVENTS = {
  CREDIT: 'budget.funded',
  DEBIT: 'budget.debited',
  RESET: 'budget.reset',
  RESET_SPENT: 'budget.reset_spent',
  REPAY_DEBT: 'budget.debt_repaid',
} as const;

const STATUS_EVENTS = {
  FROZEN: 'budget.frozen',
  ACTIVE: 'budget.unfrozen',
  CLOSED: 'budget.closed',
} as const;
const TENANT_STATUS_EVENTS = { SUSPENDED: 'tenant.suspended', CLOSED: 'tenant.closed' } as const;

type Body = Record<string, unknown>;

function stateOf(ledger: Body): Body {
  const state: Body = {};
  for (const field of ['allocated', 'remaining', 'debt', 'spent', 'reserved']) {
    const value = ledger[field];
    state[field] = typeof value === 'object' && value !== null ? (value as Body).amount : value;
  }
  state.status = ledger.status;
  return state;
}

function budgetDraft(type: EventDraft['type'], ledger: Body, extra: Body): EventDraft {
  const scope = String(ledger.scope);
  return {
    type,
    tenant: tenantOfScope(scope) ?? SYSTEM_TENANT,
    scope,
    data: { ledger_id: ledger.ledger_id, scope, unit: ledger.unit, ...extra },
  };
}

/** What an admin call's target was before it ran (read by `preHandler`), for the events' previous state. */
interface Before {
  ledger?: Body;
  /** The tenant's settings in wire form, or undefined for a tenant never set. */
  tenant?: Body;
  tenantKnown?: boolean;
}

/** The events of one successful admin budget call, from its route, request body, answer and prior state. */
function draftsOf(route: string, method: string, request: Body, answer: Body, before: Before): EventDraft[] {
  if (route === '/v1/admin/budgets' && method === 'POST') {
    return [budgetDraft('budget.created', answer, { operation: 'CREATE', new_state: stateOf(answer) })];
  }
  if (route === '/v1/admin/budgets' && method === 'PATCH') {
    const drafts: EventDraft[] = [];
    const transition = (operation: string): Body => {
      const data: Body = { operation, new_state: stateOf(answer) };
      if (before.ledger !== undefined) data.previous_state = stateOf(before.ledger);
      return data;
    };
    const changed = Object.keys(request).filter((key) => key !== 'status');
    if (changed.length > 0) drafts.push(budgetDraft('budget.updated', answer, transition('UPDATE')));
    const status = request.status as string | undefined;
    // A status event only for a real transition (unfrozen: from FROZEN, as GOV says).
    const previous = before.ledger?.status as string | undefined;
    const type =
      status === previous
        ? undefined
        : status === 'ACTIVE'
          ? previous === 'FROZEN'
            ? STATUS_EVENTS.ACTIVE
            : undefined
          : STATUS_EVENTS[status as keyof typeof STATUS_EVENTS];
    if (type !== undefined) drafts.push(budgetDraft(type, answer, transition('STATUS_CHANGE')));
    return drafts;
  }
  if (route === '/v1/admin/budgets/fund' && method === 'POST') {
    const type = FUNDING_EVENTS[answer.operation as keyof typeof FUNDING_EVENTS];
    if (type === undefined) return [];
    const ledger = answer.ledger as Body;
    const data: Body = {
      operation: answer.operation,
      previous_state: {
        allocated: answer.previous_allocated,
        remaining: answer.previous_remaining,
        debt: answer.previous_debt,
        spent: answer.previous_spent,
      },
      new_state: stateOf(ledger),
    };
    if (typeof request.reason === 'string') data.reason = request.reason;
    if (type === 'budget.reset_spent') data.spent_override_provided = request.spent !== undefined;
    return [budgetDraft(type, ledger, data)];
  }
  return [];
}

/**
 * The events of a successful `PUT /v1/admin/tenants/:tenant` (GOV `EventDataTenantLifecycle`): the
 * first time a tenant is set, `tenant.created`; after that `tenant.settings_changed` naming the wire
 * fields whose value changed (the PUT replaces the settings whole), and a status transition's own event.
 */
function tenantDrafts(tenant: string, body: Body, before: Before, requestId: string): EventDraft[] {
  // Both sides in the same normalized wire form (e.g. observe_mode DISABLED is ENFORCE).
  const request = toWireTenantSettings(fromWireTenantSettings(body));
  const status = (request.status as string | undefined) ?? 'ACTIVE';
  if (before.tenantKnown === false) {
    return [
      { type: 'tenant.created', tenant, data: { tenant_id: tenant, new_status: status, changed_fields: [] } },
    ];
  }
  const drafts: EventDraft[] = [];
  const prior = before.tenant ?? {};
  const fields = [...new Set([...Object.keys(prior), ...Object.keys(request)])].filter(
    (field) => field !== 'status' && JSON.stringify(prior[field]) !== JSON.stringify(request[field]),
  );
  if (fields.length > 0) {
    drafts.push({
      type: 'tenant.settings_changed',
      tenant,
      data: { tenant_id: tenant, changed_fields: fields.sort() },
    });
  }
  const previous = (prior.status as string | undefined) ?? 'ACTIVE';
  const type =
    status === previous
      ? undefined
      : status === 'ACTIVE'
        ? previous === 'SUSPENDED'
          ? 'tenant.reactivated'
          : undefined
        : TENANT_STATUS_EVENTS[status as keyof typeof TENANT_STATUS_EVENTS];
  if (type !== undefined) {
    const data = { tenant_id: tenant, previous_status: previous, new_status: status };
    // The close cascade's events share this correlation id (GOV Rule 1).
    const correlationId = status === 'CLOSED' ? TenantCascade.correlationId(tenant, requestId) : undefined;
    drafts.push({ type, tenant, data, ...(correlationId === undefined ? {} : { correlationId }) });
  }
  return drafts;
}

const TENANT_ROUTE = '/v1/admin/tenants/:tenant';

/** Reads what a budget PATCH or a tenant PUT is about to change (never failing the call). */
async function readBefore(ledger: Ledger, request: FastifyRequest): Promise<Before | undefined> {
  const route = request.routeOptions.url ?? '';
  try {
    if (route === TENANT_ROUTE && request.method === 'PUT' && ledger.getTenant !== undefined) {
      const tenant = String((request.params as Body).tenant).toLowerCase();
      const settings = await ledger.getTenant(tenant);
      return settings === undefined
        ? { tenantKnown: false }
        : { tenantKnown: true, tenant: toWireTenantSettings(settings) };
    }
    if (route === '/v1/admin/budgets' && request.method === 'PATCH') {
      const { scope, unit } = request.query as { scope?: unknown; unit?: unknown };
      if (typeof scope !== 'string' || typeof unit !== 'string') return undefined;
      const state = await ledger.getLedger(scope, unit as Unit);
      return state === undefined ? undefined : { ledger: toWireLedgerState(state) as unknown as Body };
    }
  } catch {
    // A read that fails leaves the previous state out of the events; the call itself goes on.
  }
  return undefined;
}

/**
 * Publishes the lifecycle events of successful admin budget and tenant calls. `tenant.created` goes to
 * the PUT that wins the tenant's creation claim, so it is reported once across retries and servers.
 */
export function registerAdminEvents(app: FastifyInstance, ledger: Ledger, creations: TenantCreations): void {
  const events = ledger.events;
  if (events === undefined) return;
  const befores = new WeakMap<FastifyRequest, Before>();
  app.addHook('preHandler', async (request) => {
    const before = await readBefore(ledger, request);
    if (before !== undefined) befores.set(request, before);
  });
  app.addHook('onSend', async (request, reply, payload) => {
    const route = request.routeOptions.url ?? '';
    if (!route.startsWith('/v1/admin/budgets') && route !== TENANT_ROUTE) return payload;
    if (reply.statusCode >= 300) return payload;
    const body = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as Body;
    const before = befores.get(request) ?? {};
    let drafts: EventDraft[];
    if (route === TENANT_ROUTE) {
      const tenant = String((request.params as Body).tenant).toLowerCase();
      // Every PUT claims (a tenant known before the claims existed gets marked); when unreachable, no
      // `tenant.created` rather than a second one.
      const first = await creations.claim(tenant).catch(() => false);
      const known = before.tenantKnown === false && !first ? { ...before, tenantKnown: true } : before;
      drafts = tenantDrafts(tenant, body, known, request.id);
    } else {
      let answer: Body = {};
      try {
        answer = typeof payload === 'string' ? JSON.parse(payload) : {};
      } catch {
        return payload;
      }
      drafts = draftsOf(route, request.method, body, answer, before);
    }
    events.publish(drafts, { requestId: request.id, traceId: request.traceId, actor: { type: 'admin' } });
    return payload;
  });
}
