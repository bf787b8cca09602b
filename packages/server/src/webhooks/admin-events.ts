import type { Ledger } from '@cycles-guard/core';
import { type EventDraft, SYSTEM_TENANT, tenantOfScope } from '@cycles-guard/core/ledger-kit';
import type { FastifyInstance } from 'fastify';

// The budget.* and tenant.* lifecycle events the admin API causes, read from each successful admin
// answer (the ledger's state after the change), so the admin routes themselves stay as they are.

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

/** The events of one successful admin call, from its route, request body and answer. */
function draftsOf(route: string, method: string, request: Body, answer: Body): EventDraft[] {
  if (route === '/v1/admin/budgets' && method === 'POST') {
    return [budgetDraft('budget.created', answer, { operation: 'CREATE', new_state: stateOf(answer) })];
  }
  if (route === '/v1/admin/budgets' && method === 'PATCH') {
    const drafts: EventDraft[] = [];
    const changed = Object.keys(request).filter((key) => key !== 'status');
    if (changed.length > 0) {
      drafts.push(budgetDraft('budget.updated', answer, { operation: 'UPDATE', new_state: stateOf(answer) }));
    }
    const status = STATUS_EVENTS[request.status as keyof typeof STATUS_EVENTS];
    if (status !== undefined) {
      drafts.push(budgetDraft(status, answer, { operation: 'STATUS_CHANGE', new_state: stateOf(answer) }));
    }
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

/** Publishes the lifecycle events of successful admin budget and tenant calls. */
export function registerAdminEvents(app: FastifyInstance, ledger: Ledger): void {
  const events = ledger.events;
  if (events === undefined) return;
  app.addHook('onSend', async (request, reply, payload) => {
    const route = request.routeOptions.url ?? '';
    if (!route.startsWith('/v1/admin/budgets') && !route.startsWith('/v1/admin/tenants/')) return payload;
    if (reply.statusCode >= 300) return payload;
    const body = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as Body;
    let drafts: EventDraft[];
    if (route === '/v1/admin/tenants/:tenant') {
      const tenant = String((request.params as Body).tenant).toLowerCase();
      drafts = [
        {
          type: 'tenant.settings_changed',
          tenant,
          data: { tenant_id: tenant, changed_fields: Object.keys(body) },
        },
      ];
      const status = TENANT_STATUS_EVENTS[body.status as keyof typeof TENANT_STATUS_EVENTS];
      if (status !== undefined)
        drafts.push({ type: status, tenant, data: { tenant_id: tenant, new_status: body.status } });
    } else {
      let answer: Body = {};
      try {
        answer = typeof payload === 'string' ? JSON.parse(payload) : {};
      } catch {
        return payload;
      }
      drafts = draftsOf(route, request.method, body, answer);
    }
    events.publish(drafts, { requestId: request.id, traceId: request.traceId, actor: { type: 'admin' } });
    return payload;
  });
}
