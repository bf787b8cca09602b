import { canonicalJson, capsSet } from '@cycles-guard/core/ledger-kit';
import type { LedgerDefinition, LedgerTemplate } from '@cycles-guard/core/protocol';

/**
 * The JSON a script decodes for a new ledger or template (validated with the ledger kit first): amounts
 * as decimal strings, caps and window as JSON text stored as is.
 */
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
