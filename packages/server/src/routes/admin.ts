import { InvalidRequestError, type Ledger, NotFoundError, UnauthorizedError } from '@cycles-guard/core';
import { type FundingOperation, UNITS, type Unit } from '@cycles-guard/core/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TenantCascade } from '../admin/tenant-cascade.ts';
import {
  fromWireDefinition,
  fromWireLedgerUpdate,
  fromWireTemplate,
  fromWireTenantSettings,
  toWireLedgerState,
  toWireTemplateLedgerCounts,
} from '../admin/wire.ts';
import type { ApiKeyRegistry } from '../api-keys.ts';
import { checkQuery, queryOf } from '../http/query.ts';
import { shownKey } from '../http/shown-key.ts';

const TENANT = /^[a-zA-Z0-9_.-]{1,128}$/;
const FUNDING_OPERATIONS = ['CREDIT', 'DEBIT', 'RESET', 'RESET_SPENT', 'REPAY_DEBT'];
const FUNDING_FIELDS = ['operation', 'amount', 'spent', 'reason', 'idempotency_key'];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A tenant's `observe_mode` is the protocol's enum (GEXT): core's boolean (`true`) is not a wire value,
 * and a wrong one is named with the enum, not as core's boolean.
 */
function requireObserveMode(body: unknown): void {
  if (!isObject(body) || body.observe_mode === undefined || body.observe_mode === null) return;
  if (!['OBSERVE', 'ENFORCE', 'DISABLED'].includes(body.observe_mode as string)) {
    // Named as the admin API names the other tenant settings (`tenant.<field>`).
    throw new InvalidRequestError('tenant.observe_mode must be one of OBSERVE, ENFORCE, DISABLED', {
      details: { field: 'tenant.observe_mode' },
    });
  }
}

export function requireAdmin(request: FastifyRequest, keys: ApiKeyRegistry): void {
  if (!keys.adminEnabled) {
    throw new UnauthorizedError(
      'The admin API is disabled: start the server with adminApiKey (or CYCLES_ADMIN_API_KEY)',
    );
  }
  const value = request.headers['x-admin-api-key'];
  if (!keys.isAdmin(Array.isArray(value) ? value[0] : value)) {
    throw new UnauthorizedError('Missing or wrong X-Admin-API-Key', {
      details: { header: 'X-Admin-API-Key' },
    });
  }
}

/** `?scope=&unit=` of the budget an admin call targets. */
function budgetKey(request: FastifyRequest): { scope: string; unit: Unit } {
  const query = request.query as Record<string, unknown>;
  const scope = query.scope;
  const unit = query.unit;
  if (typeof scope !== 'string' || scope === '') {
    throw new InvalidRequestError('scope is required: add ?scope=tenant:acme (a canonical scope path)', {
      details: { field: 'scope' },
    });
  }
  if (typeof unit !== 'string' || !UNITS.includes(unit as Unit)) {
    throw new InvalidRequestError(`unit is required: add ?unit= one of ${UNITS.join(', ')}`, {
      details: { field: 'unit' },
    });
  }
  return { scope, unit: unit as Unit };
}

function fundingOf(body: unknown): { funding: FundingOperation; reason?: string; idempotencyKey?: string } {
  if (!isObject(body))
    throw new InvalidRequestError('The funding request must be a JSON object', {
      details: { field: 'body' },
    });
  for (const key of Object.keys(body)) {
    if (!FUNDING_FIELDS.includes(key)) {
      throw new InvalidRequestError(
        `${shownKey(key)} is not a field of a funding request: use ${FUNDING_FIELDS.join(', ')}`,
        {
          details: { field: shownKey(key) },
        },
      );
    }
  }
  if (!FUNDING_OPERATIONS.includes(body.operation as string)) {
    throw new InvalidRequestError(`operation must be one of ${FUNDING_OPERATIONS.join(', ')}`, {
      details: { field: 'operation' },
    });
  }
  if (body.spent !== undefined && body.operation !== 'RESET_SPENT') {
    throw new InvalidRequestError('spent applies to RESET_SPENT only: remove it', {
      details: { field: 'spent' },
    });
  }
  const funding = (
    body.spent === undefined
      ? { operation: body.operation, amount: body.amount }
      : { operation: body.operation, amount: body.amount, spent: body.spent }
  ) as FundingOperation;
  const result: { funding: FundingOperation; reason?: string; idempotencyKey?: string } = { funding };
  if (typeof body.reason === 'string') result.reason = body.reason;
  if (typeof body.idempotency_key === 'string') result.idempotencyKey = body.idempotency_key;
  return result;
}

/**
 * Provisioning under `X-Admin-API-Key`: budgets (create, list, read, fund, freeze, update, remove), templates,
 * tenant settings, runtime API keys, an on-demand expiry sweep, and the template ledgers per tenant.
 */
export function registerAdminRoutes(
  app: FastifyInstance,
  ledger: Ledger,
  keys: ApiKeyRegistry,
  cascade?: TenantCascade,
): void {
  app.register(
    async (admin) => {
      admin.addHook('onRequest', async (request) => {
        requireAdmin(request, keys);
        // Our own API: no additive-parameter promise, so any parameter but scope and unit is a mistake.
        checkQuery(queryOf(request), 'adminBudget', true);
      });

      admin.post('/budgets', async (request, reply) => {
        const state = await ledger.createLedger(fromWireDefinition(request.body));
        return reply.code(201).send(toWireLedgerState(state));
      });

      admin.get('/budgets', async (request) => {
        const query = request.query as Record<string, unknown>;
        if (query.scope !== undefined || query.unit !== undefined) {
          const { scope, unit } = budgetKey(request);
          const state = await ledger.getLedger(scope, unit);
          if (state === undefined) {
            throw new NotFoundError(
              `No budget at ${scope} in ${unit}: create it with POST /v1/admin/budgets`,
              {
                details: { scope, unit },
              },
            );
          }
          return toWireLedgerState(state);
        }
        return { ledgers: (await ledger.listLedgers()).map(toWireLedgerState) };
      });

      admin.patch('/budgets', async (request) => {
        const { scope, unit } = budgetKey(request);
        const { status, changes } = fromWireLedgerUpdate(request.body);
        let state =
          Object.keys(changes).length > 0 ? await ledger.updateLedger(scope, unit, changes) : undefined;
        if (status !== undefined) state = await ledger.setLedgerStatus(scope, unit, status);
        if (state === undefined) {
          throw new InvalidRequestError(
            'Nothing to update: send status, overdraft_limit, caps or commit_overage_policy',
            {
              details: { field: 'body' },
            },
          );
        }
        return toWireLedgerState(state);
      });

      admin.delete('/budgets', async (request) => {
        const { scope, unit } = budgetKey(request);
        return toWireLedgerState(await ledger.removeLedger(scope, unit));
      });

      admin.post('/budgets/fund', async (request) => {
        const { scope, unit } = budgetKey(request);
        const { funding, reason, idempotencyKey } = fundingOf(request.body);
        const result = await ledger.fund({
          scope,
          unit,
          funding,
          ...(reason === undefined ? {} : { reason }),
          ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
        });
        return {
          operation: funding.operation,
          previous_allocated: result.previous.allocated,
          new_allocated: result.current.allocated,
          previous_remaining: result.previous.remaining,
          new_remaining: result.current.remaining,
          previous_debt: result.previous.debt,
          new_debt: result.current.debt,
          previous_spent: result.previous.spent,
          new_spent: result.current.spent,
          ledger: toWireLedgerState(result.current),
        };
      });

      admin.post('/templates', async (request, reply) => {
        await ledger.addTemplate(fromWireTemplate(request.body));
        return reply.code(204).send();
      });

      admin.put<{ Params: { tenant: string } }>('/tenants/:tenant', async (request, reply) => {
        if (!TENANT.test(request.params.tenant)) {
          throw new InvalidRequestError('tenant must be ≤ 128 chars of [a-zA-Z0-9_.-]', {
            details: { field: 'tenant' },
          });
        }
        requireObserveMode(request.body);
        const settings = fromWireTenantSettings(request.body);
        // Closing drives everything the tenant owns to its terminal state (GOV Rule 1).
        if (cascade === undefined) await ledger.setTenant(request.params.tenant, settings);
        else {
          const origin = { requestId: request.id, traceId: request.traceId };
          await cascade.put(request.params.tenant.toLowerCase(), settings, origin);
        }
        return reply.code(204).send();
      });

      admin.post('/api-keys', async (request, reply) => {
        const body = request.body;
        if (
          !isObject(body) ||
          typeof body.tenant !== 'string' ||
          !TENANT.test(body.tenant) ||
          Object.keys(body).length !== 1
        ) {
          throw new InvalidRequestError('Send { "tenant": "<id>" } (≤ 128 chars of [a-zA-Z0-9_.-])', {
            details: { field: 'tenant' },
          });
        }
        return reply.code(201).send({ api_key: keys.issue(body.tenant), tenant: body.tenant.toLowerCase() });
      });

      admin.post('/sweep', async () => ({ expired: await ledger.sweepExpired() }));

      // How many template ledgers each tenant holds, against the bounds (a flood shows up here first).
      admin.get('/template-ledgers', async () =>
        toWireTemplateLedgerCounts(await ledger.templateLedgerCounts()),
      );
    },
    { prefix: '/v1/admin' },
  );
}
