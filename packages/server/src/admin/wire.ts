import { InvalidRequestError, type LedgerState } from '@cycles-guard/core';
import {
  type BudgetWindow,
  fromWireCaps,
  fromWireObserveMode,
  type LedgerDefinition,
  type LedgerTemplate,
  type TemplateLedgerCounts,
  type TenantSettings,
  toWireCaps,
  toWireObserveMode,
  type WireCaps,
} from '@cycles-guard/core/protocol';
import { shownKey } from '../http/shown-key.ts';

// The admin API's JSON (snake_case like the protocol; amounts are plain integers in the ledger's unit).

export interface WireLedgerState {
  ledger_id: string;
  scope: string;
  unit: string;
  allocated: number;
  remaining: number;
  reserved: number;
  spent: number;
  debt: number;
  overdraft_limit: number;
  is_over_limit: boolean;
  status: string;
  caps?: WireCaps;
  commit_overage_policy?: string;
  window?: { period: string; time_zone?: string };
  period_start_ms?: number;
  period_end_ms?: number;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function toWireWindow(window: BudgetWindow): { period: string; time_zone?: string } {
  return window.timeZone === undefined
    ? { period: window.period }
    : { period: window.period, time_zone: window.timeZone };
}

function fromWireWindow(value: unknown): BudgetWindow | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) return value as BudgetWindow;
  const window: Record<string, unknown> = { period: value.period };
  if (value.time_zone !== undefined) window.timeZone = value.time_zone;
  return window as unknown as BudgetWindow;
}

export function toWireLedgerState(state: LedgerState): WireLedgerState {
  const wire: WireLedgerState = {
    ledger_id: state.ledgerId,
    scope: state.scope,
    unit: state.unit,
    allocated: state.allocated,
    remaining: state.remaining,
    reserved: state.reserved,
    spent: state.spent,
    debt: state.debt,
    overdraft_limit: state.overdraftLimit,
    is_over_limit: state.isOverLimit,
    status: state.status,
  };
  if (state.caps !== undefined) wire.caps = toWireCaps(state.caps);
  if (state.commitOveragePolicy !== undefined) wire.commit_overage_policy = state.commitOveragePolicy;
  if (state.window !== undefined) wire.window = toWireWindow(state.window);
  if (state.periodStartMs !== undefined) wire.period_start_ms = state.periodStartMs;
  if (state.periodEndMs !== undefined) wire.period_end_ms = state.periodEndMs;
  return wire;
}

export function fromWireLedgerState(wire: WireLedgerState): LedgerState {
  const state: LedgerState = {
    ledgerId: wire.ledger_id,
    scope: wire.scope,
    unit: wire.unit as LedgerState['unit'],
    allocated: wire.allocated,
    remaining: wire.remaining,
    reserved: wire.reserved,
    spent: wire.spent,
    debt: wire.debt,
    overdraftLimit: wire.overdraft_limit,
    isOverLimit: wire.is_over_limit,
    status: wire.status as LedgerState['status'],
  };
  if (wire.caps !== undefined) state.caps = fromWireCaps(wire.caps);
  if (wire.commit_overage_policy !== undefined) {
    state.commitOveragePolicy = wire.commit_overage_policy as LedgerState['commitOveragePolicy'];
  }
  if (wire.window !== undefined) state.window = fromWireWindow(wire.window) as BudgetWindow;
  if (wire.period_start_ms !== undefined) state.periodStartMs = wire.period_start_ms;
  if (wire.period_end_ms !== undefined) state.periodEndMs = wire.period_end_ms;
  return state;
}

/** Renames known snake_case keys to camelCase; unknown keys are refused (400) naming the field. */
function renameKeys(body: unknown, names: Record<string, string>, what: string): Record<string, unknown> {
  if (!isObject(body))
    throw new InvalidRequestError(`The ${what} must be a JSON object`, { details: { field: 'body' } });
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    const name = names[key];
    if (name === undefined) {
      throw new InvalidRequestError(
        `${shownKey(key)} is not a field of the ${what}: use ${Object.keys(names).join(', ')}`,
        {
          details: { field: shownKey(key) },
        },
      );
    }
    out[name] = value;
  }
  return out;
}

const DEFINITION_FIELDS = {
  scope: 'scope',
  unit: 'unit',
  allocated: 'allocated',
  overdraft_limit: 'overdraftLimit',
  caps: 'caps',
  commit_overage_policy: 'commitOveragePolicy',
  window: 'window',
  status: 'status',
};

function mapNested(fields: Record<string, unknown>): Record<string, unknown> {
  if (isObject(fields.caps)) fields.caps = fromWireCaps(fields.caps as WireCaps);
  if (fields.window !== undefined) fields.window = fromWireWindow(fields.window);
  return fields;
}

/** `POST /v1/admin/budgets` body → a definition (validated by the ledger). */
export function fromWireDefinition(body: unknown): LedgerDefinition {
  return mapNested(renameKeys(body, DEFINITION_FIELDS, 'budget')) as unknown as LedgerDefinition;
}

export function toWireDefinition(definition: LedgerDefinition): Record<string, unknown> {
  const wire: Record<string, unknown> = {
    scope: definition.scope,
    unit: definition.unit,
    allocated: definition.allocated,
  };
  if (definition.overdraftLimit !== undefined) wire.overdraft_limit = definition.overdraftLimit;
  if (definition.caps !== undefined) wire.caps = toWireCaps(definition.caps);
  if (definition.commitOveragePolicy !== undefined)
    wire.commit_overage_policy = definition.commitOveragePolicy;
  if (definition.window !== undefined) wire.window = toWireWindow(definition.window);
  if (definition.status !== undefined) wire.status = definition.status;
  return wire;
}

const TEMPLATE_FIELDS = {
  pattern: 'pattern',
  unit: 'unit',
  allocated: 'allocated',
  overdraft_limit: 'overdraftLimit',
  caps: 'caps',
  commit_overage_policy: 'commitOveragePolicy',
  window: 'window',
  max_ledgers: 'maxLedgers',
};

export function fromWireTemplate(body: unknown): LedgerTemplate {
  return mapNested(renameKeys(body, TEMPLATE_FIELDS, 'template')) as unknown as LedgerTemplate;
}

const TENANT_FIELDS = {
  status: 'status',
  default_commit_overage_policy: 'defaultCommitOveragePolicy',
  default_reservation_ttl_ms: 'defaultReservationTtlMs',
  max_reservation_ttl_ms: 'maxReservationTtlMs',
  max_reservation_extensions: 'maxReservationExtensions',
  max_reservations: 'maxReservations',
  max_template_ledgers: 'maxTemplateLedgers',
  observe_mode: 'observeMode',
};

/** Tenant settings body → core settings; `observe_mode` is the protocol's enum (OBSERVE|ENFORCE|DISABLED). */
export function fromWireTenantSettings(body: unknown): TenantSettings {
  const settings = renameKeys(body, TENANT_FIELDS, 'tenant settings');
  if (settings.observeMode !== undefined) settings.observeMode = fromWireObserveMode(settings.observeMode);
  return settings as TenantSettings;
}

export function toWireTenantSettings(settings: TenantSettings): Record<string, unknown> {
  const wire: Record<string, unknown> = {};
  for (const [wireName, name] of Object.entries(TENANT_FIELDS)) {
    const value =
      name === 'observeMode'
        ? toWireObserveMode(settings.observeMode)
        : (settings as Record<string, unknown>)[name];
    if (value !== undefined) wire[wireName] = value;
  }
  return wire;
}

const UPDATE_FIELDS = {
  status: 'status',
  overdraft_limit: 'overdraftLimit',
  caps: 'caps',
  commit_overage_policy: 'commitOveragePolicy',
};

/** `PATCH /v1/admin/budgets` body → status and/or field changes. */
export function fromWireLedgerUpdate(body: unknown): {
  status?: LedgerState['status'];
  changes: Partial<Pick<LedgerDefinition, 'overdraftLimit' | 'caps' | 'commitOveragePolicy'>>;
} {
  const { status, ...changes } = mapNested(renameKeys(body, UPDATE_FIELDS, 'budget update'));
  return status === undefined ? { changes } : { status: status as LedgerState['status'], changes };
}

/** `GET /v1/admin/template-ledgers`: the live template ledgers, in all and per tenant, and the bounds. */
export function toWireTemplateLedgerCounts(counts: TemplateLedgerCounts) {
  return {
    total: counts.total,
    limit: counts.limit,
    per_tenant_limit: counts.perTenantLimit,
    by_tenant: counts.byTenant,
  };
}

export function fromWireTemplateLedgerCounts(wire: ReturnType<typeof toWireTemplateLedgerCounts>) {
  return {
    total: wire.total,
    limit: wire.limit,
    perTenantLimit: wire.per_tenant_limit,
    byTenant: wire.by_tenant,
  } satisfies TemplateLedgerCounts;
}
