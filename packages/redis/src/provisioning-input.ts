import type { LedgerDefinition, LedgerTemplate, TenantSettings } from '@cycles-guard/core';
import {
  normalizeScope,
  validateDefinition,
  validateTemplate,
  validateTenantSettings,
} from '@cycles-guard/core/ledger-kit';
import { canonicalJson } from './payloads.ts';

// Provisioning input is checked with core's own rules (the ledger kit), so both ledgers accept and
// refuse exactly the same definitions.

/** Validates a scope path (400 naming `scope` otherwise) and returns it normalized. */
export function checkedScope(scope: string): string {
  return normalizeScope(scope, 'scope');
}

/** Validates a definition (errors name `field`, e.g. `changes.overdraftLimit`) with the scope normalized. */
export function checkedDefinition(definition: LedgerDefinition, field = 'ledger'): LedgerDefinition {
  return validateDefinition(definition, field);
}

export function checkTemplate(template: LedgerTemplate): LedgerTemplate {
  return validateTemplate(template);
}

export function checkTenantSettings(_tenant: string, settings: TenantSettings): void {
  validateTenantSettings(settings);
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
