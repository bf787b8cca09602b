import { CyclesError, type InvalidRequestError, type LedgerState } from '@cycles-guard/core';
import { DuplicateLedgerError, LedgerInUseError } from '@cycles-guard/core/ledger-kit';
import {
  type FundingRequest,
  type FundingResult,
  fromWireErrorResponse,
  type LedgerAdmin,
  type LedgerDefinition,
  type LedgerStatus,
  type LedgerTemplate,
  type TemplateLedgerCounts,
  type TenantSettings,
  type Unit,
} from '@cycles-guard/core/protocol';
import {
  fromWireLedgerState,
  fromWireTemplateLedgerCounts,
  toWireDefinition,
  type toWireTemplateLedgerCounts,
  toWireTenantSettings,
  type WireLedgerState,
} from './wire.ts';

/** Options of `createAdminClient`. */
export interface AdminClientOptions {
  baseUrl: string;
  /** Sent as `X-Admin-API-Key`. */
  adminApiKey: string;
  fetch?: typeof fetch;
}

/** The admin API of `cycles-guard-server`, plus API-key issuing. */
export interface AdminClient extends LedgerAdmin {
  /** Issues a runtime API key for `tenant`. */
  issueApiKey(tenant: string): Promise<string>;
}

/**
 * A typed client of the server's admin endpoints: the `LedgerAdmin` interface over HTTP, so scripts and
 * tests provision a remote server exactly as they would an embedded ledger.
 */
export function createAdminClient(options: AdminClientOptions): AdminClient {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const root = options.baseUrl.replace(/\/+$/, '');

  /** `Conflict`: the error class of a 409 INVALID_REQUEST on this path, as the embedded ledger throws it. */
  async function call(
    method: string,
    path: string,
    body?: unknown,
    Conflict: typeof InvalidRequestError = DuplicateLedgerError,
  ): Promise<unknown> {
    const headers: Record<string, string> = { 'X-Admin-API-Key': options.adminApiKey };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetchImpl(`${root}/v1/admin${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    const parsed: unknown = text === '' ? undefined : JSON.parse(text);
    if (response.ok) return parsed;
    const error = fromWireErrorResponse(parsed, response.status);
    if (response.status === 409 && error.code === 'INVALID_REQUEST') {
      throw new Conflict(error.message, error.details === undefined ? {} : { details: error.details });
    }
    throw error;
  }

  const budget = (scope: string, unit: Unit) =>
    `?scope=${encodeURIComponent(scope)}&unit=${encodeURIComponent(unit)}`;
  const state = (wire: unknown) => fromWireLedgerState(wire as WireLedgerState);

  return {
    async createLedger(definition: LedgerDefinition): Promise<LedgerState> {
      return state(await call('POST', '/budgets', toWireDefinition(definition)));
    },
    async fund(request: FundingRequest): Promise<FundingResult> {
      const { funding } = request;
      const body: Record<string, unknown> = { operation: funding.operation, amount: funding.amount };
      if (funding.operation === 'RESET_SPENT' && funding.spent !== undefined) body.spent = funding.spent;
      if (request.reason !== undefined) body.reason = request.reason;
      if (request.idempotencyKey !== undefined) body.idempotency_key = request.idempotencyKey;
      const wire = (await call(
        'POST',
        `/budgets/fund${budget(request.scope, request.unit)}`,
        body,
      )) as Record<string, number> & { ledger: WireLedgerState };
      return {
        previous: {
          allocated: wire.previous_allocated as number,
          remaining: wire.previous_remaining as number,
          debt: wire.previous_debt as number,
          spent: wire.previous_spent as number,
        },
        current: fromWireLedgerState(wire.ledger),
      };
    },
    async setLedgerStatus(scope: string, unit: Unit, status: LedgerStatus): Promise<LedgerState> {
      return state(await call('PATCH', `/budgets${budget(scope, unit)}`, { status }));
    },
    async updateLedger(scope, unit, changes): Promise<LedgerState> {
      const body: Record<string, unknown> = {};
      const wire = toWireDefinition({ scope, unit, allocated: 0, ...changes });
      for (const key of ['overdraft_limit', 'caps', 'commit_overage_policy']) {
        if (wire[key] !== undefined) body[key] = wire[key];
      }
      return state(await call('PATCH', `/budgets${budget(scope, unit)}`, body));
    },
    async removeLedger(scope: string, unit: Unit): Promise<LedgerState> {
      return state(await call('DELETE', `/budgets${budget(scope, unit)}`, undefined, LedgerInUseError));
    },
    async getLedger(scope: string, unit: Unit): Promise<LedgerState | undefined> {
      try {
        return state(await call('GET', `/budgets${budget(scope, unit)}`));
      } catch (error) {
        if (CyclesError.isInstance(error) && error.code === 'NOT_FOUND') return undefined;
        throw error;
      }
    },
    async listLedgers(): Promise<LedgerState[]> {
      const wire = (await call('GET', '/budgets')) as { ledgers: WireLedgerState[] };
      return wire.ledgers.map(fromWireLedgerState);
    },
    async addTemplate(template: LedgerTemplate): Promise<void> {
      const { pattern, maxLedgers, ...rest } = template;
      const { scope: _scope, ...wire } = toWireDefinition({ scope: '', ...rest });
      await call('POST', '/templates', {
        pattern,
        ...wire,
        ...(maxLedgers === undefined ? {} : { max_ledgers: maxLedgers }),
      });
    },
    async setTenant(tenant: string, settings: TenantSettings): Promise<void> {
      await call('PUT', `/tenants/${encodeURIComponent(tenant)}`, toWireTenantSettings(settings));
    },
    async sweepExpired(): Promise<number> {
      return ((await call('POST', '/sweep')) as { expired: number }).expired;
    },
    async templateLedgerCounts(): Promise<TemplateLedgerCounts> {
      const wire = await call('GET', '/template-ledgers');
      return fromWireTemplateLedgerCounts(wire as ReturnType<typeof toWireTemplateLedgerCounts>);
    },
    async issueApiKey(tenant: string): Promise<string> {
      return ((await call('POST', '/api-keys', { tenant })) as { api_key: string }).api_key;
    },
  };
}
