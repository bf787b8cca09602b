import { readFileSync } from 'node:fs';
import { CyclesError, InvalidConfigError } from '../protocol/errors.ts';
import { validateDefinition, validateTemplate, validateTenantSettings } from './definitions.ts';
import type { LedgerDefinition, LedgerTemplate, TenantSettings } from './types.ts';

// The ledger config file: `{ "ledgers": [...], "templates": [...], "tenants": {...} }`. Errors are
// InvalidConfigError naming the JSON path (e.g. `ledgers[1].allocated`) and, when read from disk, the file.

/** What a ledger config file provides: spread it into `createMemoryLedger`'s options. */
export interface LedgerConfig {
  ledgers: LedgerDefinition[];
  templates: LedgerTemplate[];
  tenants: Record<string, TenantSettings>;
}

function fail(message: string, field: string, source: string | undefined): never {
  throw new InvalidConfigError(`${source === undefined ? '' : `${source}: `}${message}`, {
    details: { field },
  });
}

function rethrow(error: unknown, source: string | undefined): never {
  if (CyclesError.isInstance(error)) fail(error.message, String(error.details?.field ?? ''), source);
  throw error;
}

function parseJson(text: string, source: string | undefined): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    fail(`is not valid JSON (${(error as Error).message})`, '$', source);
  }
}

/** Validates parsed JSON (or a JSON string) as a ledger config. */
export function parseLedgerConfig(json: unknown, source?: string): LedgerConfig {
  const value = typeof json === 'string' ? parseJson(json, source) : json;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail('must be a JSON object with "ledgers", "templates" and/or "tenants"', '$', source);
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!['ledgers', 'templates', 'tenants', '$schema'].includes(key)) {
      fail(`${key} is not a known key: use "ledgers", "templates" or "tenants"`, key, source);
    }
  }
  const config: LedgerConfig = { ledgers: [], templates: [], tenants: {} };
  try {
    const { ledgers = [], templates = [], tenants = {} } = record;
    if (!Array.isArray(ledgers)) fail('ledgers must be an array', 'ledgers', source);
    if (!Array.isArray(templates)) fail('templates must be an array', 'templates', source);
    if (typeof tenants !== 'object' || tenants === null || Array.isArray(tenants)) {
      fail('tenants must be an object keyed by tenant id', 'tenants', source);
    }
    ledgers.forEach((ledger, index) => {
      config.ledgers.push(validateDefinition(ledger, `ledgers[${index}]`));
    });
    templates.forEach((template, index) => {
      config.templates.push(validateTemplate(template, `templates[${index}]`));
    });
    for (const [tenant, settings] of Object.entries(tenants)) {
      config.tenants[tenant] = validateTenantSettings(settings, `tenants.${tenant}`);
    }
  } catch (error) {
    if (error instanceof InvalidConfigError) throw error;
    rethrow(error, source);
  }
  const seen = new Set<string>();
  config.ledgers.forEach((ledger, index) => {
    const key = `${ledger.scope}|${ledger.unit}`;
    if (seen.has(key))
      fail(`ledgers[${index}] duplicates ${ledger.scope} (${ledger.unit})`, `ledgers[${index}]`, source);
    seen.add(key);
  });
  return config;
}

/**
 * Reads and parses a JSON config file (synchronously: it runs once at startup). InvalidConfigError
 * naming the file when it cannot be read or is not JSON. Shared with the server's `cycles.json`.
 */
export function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    fail(`cannot be read (${(error as Error).message})`, '$', path);
  }
  return parseJson(text, path);
}

/** Reads and validates a ledger config file. */
export function loadLedgerConfig(path: string): LedgerConfig {
  return parseLedgerConfig(readConfigFile(path), path);
}
