import {
  CyclesError,
  createMemoryLedger,
  errorForCode,
  type LedgerDefinition,
  type LedgerTemplate,
  type TenantSettings,
  type Unit,
} from '@cycles-guard/core';
import { canonicalJson } from './payloads.ts';

// Provisioning input is checked with core's own rules, through a throwaway memory ledger (core keeps
// its validators private), so both ledgers accept and refuse exactly the same definitions.

function scratch() {
  return createMemoryLedger({ sweepIntervalMs: 0 });
}

/** Lower-cases a scope's or pattern's values, as core normalizes them. */
export function normalizePath(path: string): string {
  return path
    .split('/')
    .map((segment) => {
      const colon = segment.indexOf(':');
      return colon === -1 ? segment : `${segment.slice(0, colon)}:${segment.slice(colon + 1).toLowerCase()}`;
    })
    .join('/');
}

/** Validates a scope path (400 naming `scope` otherwise) and returns it normalized. */
export async function checkedScope(scope: string, unit: Unit): Promise<string> {
  await scratch().getLedger(scope, unit);
  return normalizePath(scope);
}

/** Validates a definition and returns it with the scope normalized. */
export async function checkedDefinition(
  definition: LedgerDefinition,
  field?: string,
): Promise<LedgerDefinition> {
  try {
    const state = await scratch().createLedger(definition);
    return { ...definition, scope: state.scope };
  } catch (error) {
    if (field === undefined || !CyclesError.isInstance(error) || error.details === undefined) throw error;
    // Name the caller's field (e.g. `changes.overdraftLimit`) rather than the scratch definition's.
    const rename = (text: string) => text.replace(/^ledger\b/, field);
    const details = { ...error.details, field: rename(String(error.details.field ?? '')) };
    throw errorForCode(error.code, rename(error.message), { details });
  }
}

export async function checkTemplate(template: LedgerTemplate): Promise<LedgerTemplate> {
  await scratch().addTemplate(template);
  return { ...template, pattern: normalizePath(template.pattern) };
}

export async function checkTenantSettings(tenant: string, settings: TenantSettings): Promise<void> {
  await scratch().setTenant(tenant, settings);
}

/** True when a caps object sets anything (ALLOW_WITH_CAPS is only answered then). */
export function capsSet(caps: LedgerDefinition['caps']): boolean {
  return caps !== undefined && Object.values(caps).some((value) => value !== undefined);
}

/** The JSON a script decodes for a new ledger or template: amounts as decimal strings. */
export function definitionJson(definition: LedgerDefinition | (LedgerTemplate & { scope?: string })): string {
  return JSON.stringify({
    scope: 'scope' in definition ? definition.scope : undefined,
    pattern: 'pattern' in definition ? definition.pattern : undefined,
    unit: definition.unit,
    allocated: String(definition.allocated),
    overdraftLimit: String(definition.overdraftLimit ?? 0),
    caps: definition.caps === undefined ? undefined : JSON.stringify(definition.caps),
    hasCaps: capsSet(definition.caps) ? '1' : '0',
    policy: definition.commitOveragePolicy,
    window: definition.window === undefined ? undefined : canonicalJson(definition.window),
    status: 'status' in definition ? definition.status : undefined,
    maxLedgers:
      'maxLedgers' in definition && definition.maxLedgers !== undefined
        ? String(definition.maxLedgers)
        : undefined,
  });
}
