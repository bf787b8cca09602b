import { LedgerStatus, OVERAGE_POLICIES, SUBJECT_LEVELS, UNITS } from '../protocol/enums.ts';
import { invalid } from '../protocol/errors.ts';
import type { BudgetWindow, Caps } from '../protocol/types.ts';
import { isObject } from '../protocol/validate.ts';
import { normalizePattern } from './templates.ts';
import type { LedgerDefinition, LedgerTemplate, TenantSettings } from './types.ts';
import { checkTimeZone } from './windows.ts';

// Validation of provisioning input (ledger definitions, templates, tenant settings). `field` is the
// path used in error messages, e.g. `ledgers[2].allocated` when read from a config file.

const SEGMENT = /^[a-zA-Z0-9_.-]+$/;
const PERIODS = ['hour', 'day', 'week', 'month'];

function checkAmount(value: unknown, field: string): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(field, 'must be a non-negative integer', `got ${JSON.stringify(value)}`);
  }
}

/**
 * Checks a scope path (or a template pattern when `wildcards`): `level:value` segments joined by `/`,
 * levels in canonical order without repeats. Returns it with values lower-cased.
 */
export function normalizeScope(scope: unknown, field: string, wildcards = false): string {
  if (typeof scope !== 'string' || scope === '') {
    throw invalid(field, 'must be a scope path', 'e.g. "tenant:acme/app:chat"');
  }
  let lastLevel = -1;
  for (const segment of scope.split('/')) {
    const colon = segment.indexOf(':');
    const level = SUBJECT_LEVELS.indexOf(segment.slice(0, colon) as never);
    const value = segment.slice(colon + 1);
    if (colon === -1 || level === -1) {
      throw invalid(
        field,
        `has a bad segment "${segment}"`,
        `use level:value with level in ${SUBJECT_LEVELS.join('|')}`,
      );
    }
    if (level <= lastLevel)
      throw invalid(field, 'has levels out of order', `order: ${SUBJECT_LEVELS.join(' → ')}`);
    if (!(wildcards && value === '*') && (!SEGMENT.test(value) || value.length > 128)) {
      throw invalid(field, `has a bad value in "${segment}"`, 'use ≤ 128 chars of [a-zA-Z0-9_.-]');
    }
    lastLevel = level;
  }
  return normalizePattern(scope);
}

function checkWindow(window: unknown, field: string): asserts window is BudgetWindow | undefined {
  if (window === undefined) return;
  if (!isObject(window) || !PERIODS.includes(window.period as string)) {
    throw invalid(`${field}.period`, `must be one of ${PERIODS.join(', ')}`, 'e.g. { "period": "day" }');
  }
  if (window.timeZone !== undefined) {
    try {
      checkTimeZone(String(window.timeZone));
    } catch {
      throw invalid(`${field}.timeZone`, `is not a known IANA time zone`, 'e.g. "Europe/Paris" or "UTC"');
    }
  }
}

function checkCaps(caps: unknown, field: string): asserts caps is Caps | undefined {
  if (caps === undefined) return;
  if (!isObject(caps)) throw invalid(field, 'must be an object', 'e.g. { "maxTokens": 1000 }');
  for (const name of ['maxTokens', 'maxStepsRemaining', 'cooldownMs']) {
    if (caps[name] !== undefined) checkAmount(caps[name], `${field}.${name}`);
  }
  for (const name of ['toolAllowlist', 'toolDenylist']) {
    const list = caps[name];
    if (list !== undefined && (!Array.isArray(list) || list.some((tool) => typeof tool !== 'string'))) {
      throw invalid(`${field}.${name}`, 'must be an array of strings', 'e.g. ["search"]');
    }
  }
}

function checkCommon(input: Record<string, unknown>, field: string): void {
  if (!UNITS.includes(input.unit as never)) {
    throw invalid(`${field}.unit`, `must be one of ${UNITS.join(', ')}`, `got ${JSON.stringify(input.unit)}`);
  }
  checkAmount(input.allocated, `${field}.allocated`);
  if (input.overdraftLimit !== undefined) checkAmount(input.overdraftLimit, `${field}.overdraftLimit`);
  checkCaps(input.caps, `${field}.caps`);
  if (
    input.commitOveragePolicy !== undefined &&
    !OVERAGE_POLICIES.includes(input.commitOveragePolicy as never)
  ) {
    throw invalid(
      `${field}.commitOveragePolicy`,
      `must be one of ${OVERAGE_POLICIES.join(', ')}`,
      'or omit it',
    );
  }
  checkWindow(input.window, `${field}.window`);
}

/** Validates a ledger definition; returns a copy with the scope normalized. */
export function validateDefinition(input: unknown, field = 'ledger'): LedgerDefinition {
  if (!isObject(input)) throw invalid(field, 'must be an object', 'pass { scope, unit, allocated }');
  const scope = normalizeScope(input.scope, `${field}.scope`);
  checkCommon(input, field);
  if (input.status !== undefined && !Object.values(LedgerStatus).includes(input.status as never)) {
    throw invalid(`${field}.status`, 'must be ACTIVE, FROZEN or CLOSED', 'or omit it');
  }
  return { ...(input as unknown as LedgerDefinition), scope };
}

/** Validates a template; returns a copy with the pattern normalized. */
export function validateTemplate(input: unknown, field = 'template'): LedgerTemplate {
  if (!isObject(input)) throw invalid(field, 'must be an object', 'pass { pattern, unit, allocated }');
  const pattern = normalizeScope(input.pattern, `${field}.pattern`, true);
  checkCommon(input, field);
  if (input.maxLedgers !== undefined) checkAmount(input.maxLedgers, `${field}.maxLedgers`);
  return { ...(input as unknown as LedgerTemplate), pattern };
}

/** Validates tenant settings. */
export function validateTenantSettings(input: unknown, field = 'tenant'): TenantSettings {
  if (!isObject(input)) throw invalid(field, 'must be an object', 'pass {} for defaults');
  if (input.status !== undefined && !['ACTIVE', 'SUSPENDED', 'CLOSED'].includes(input.status as string)) {
    throw invalid(`${field}.status`, 'must be ACTIVE, SUSPENDED or CLOSED', 'or omit it');
  }
  if (
    input.defaultCommitOveragePolicy !== undefined &&
    !OVERAGE_POLICIES.includes(input.defaultCommitOveragePolicy as never)
  ) {
    throw invalid(
      `${field}.defaultCommitOveragePolicy`,
      `must be one of ${OVERAGE_POLICIES.join(', ')}`,
      'or omit it',
    );
  }
  for (const name of [
    'defaultReservationTtlMs',
    'maxReservationTtlMs',
    'maxReservationExtensions',
    'maxReservations',
    'maxTemplateLedgers',
  ]) {
    if (input[name] !== undefined) checkAmount(input[name], `${field}.${name}`);
  }
  if (input.observeMode !== undefined && typeof input.observeMode !== 'boolean') {
    throw invalid(`${field}.observeMode`, 'must be a boolean', 'true observes every reserve by default');
  }
  return input as TenantSettings;
}

/** Validates the settings a tenant is closed with (closeTenant): valid settings whose status is CLOSED. */
export function validateClosingSettings(input: unknown): TenantSettings {
  const settings = validateTenantSettings(input);
  if (settings.status !== 'CLOSED') {
    throw invalid(
      'tenant.status',
      'must be CLOSED to close a tenant',
      'send status CLOSED, or use setTenant',
    );
  }
  return settings;
}
