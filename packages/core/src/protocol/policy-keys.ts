import { invalid } from './errors.ts';

// `action.policy_keys` (v0.1.26 action kinds, `ActionPolicyKeys`): extra routing dimensions of an action.
// Accepted and validated as the closed object the spec defines; no ledger evaluates them yet (there are
// no action-kind policies), so they change no decision.

/** **v0.1.26.** Extra dimensions of an action for policy routing (closed object). */
export interface ActionPolicyKeys {
  /** Hostname only (≤ 253 chars), e.g. `api.sendgrid.com`. */
  host?: string;
  /** Domain only (≤ 253 chars). */
  recipientDomain?: string;
  /** e.g. `users` (≤ 128 chars). */
  resourceType?: string;
  /** Absolute path prefix (≤ 512 chars). */
  pathPrefix?: string;
  /** ≤ 8 entries, values ≤ 256 chars. */
  custom?: Record<string, string>;
}

/** Wire form (`ActionPolicyKeys`). */
export interface WireActionPolicyKeys {
  host?: string;
  recipient_domain?: string;
  resource_type?: string;
  path_prefix?: string;
  custom?: Record<string, string>;
}

/** API name → [wire name, longest length]. */
const KEYS = {
  host: ['host', 253],
  recipientDomain: ['recipient_domain', 253],
  resourceType: ['resource_type', 128],
  pathPrefix: ['path_prefix', 512],
} as const;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Throws INVALID_REQUEST unless `keys` is a valid `ActionPolicyKeys` (named `field` in errors). */
export function validatePolicyKeys(keys: unknown, field: string): asserts keys is ActionPolicyKeys {
  if (!isObject(keys)) throw invalid(field, 'must be an object', 'pass { host?, resourceType?, ... }');
  for (const [name, value] of Object.entries(keys)) {
    if (value === undefined) continue;
    if (name === 'custom') {
      validateCustom(value, `${field}.custom`);
      continue;
    }
    const limit = KEYS[name as keyof typeof KEYS]?.[1];
    if (limit === undefined) {
      throw invalid(
        `${field}.${name.slice(0, 64)}`,
        'is not a known field',
        `use only ${[...Object.keys(KEYS), 'custom'].join(', ')}`,
      );
    }
    if (typeof value !== 'string' || value.length > limit) {
      throw invalid(`${field}.${name}`, `must be a string of at most ${limit} chars`, 'shorten it');
    }
  }
}

function validateCustom(custom: unknown, field: string): void {
  if (!isObject(custom)) throw invalid(field, 'must be an object of strings', 'pass { name: value }');
  const entries = Object.entries(custom);
  if (entries.length > 8) throw invalid(field, `has ${entries.length} entries`, 'keep at most 8');
  for (const [name, value] of entries) {
    if (typeof value !== 'string' || value.length > 256) {
      throw invalid(`${field}.${name.slice(0, 64)}`, 'must be a string of at most 256 chars', 'shorten it');
    }
  }
}

/** API → wire (unknown members dropped; a non-object passes through for the validator). */
export function toWirePolicyKeys(keys: ActionPolicyKeys): WireActionPolicyKeys {
  if (!isObject(keys)) return keys;
  const wire: Record<string, unknown> = {};
  for (const [name, [wireName]] of Object.entries(KEYS)) {
    const value = (keys as Record<string, unknown>)[name];
    if (value !== undefined && value !== null) wire[wireName] = value;
  }
  if (keys.custom !== undefined && keys.custom !== null)
    wire.custom = isObject(keys.custom) ? { ...keys.custom } : keys.custom;
  return wire as WireActionPolicyKeys;
}

/**
 * Wire → API. Unknown members are kept (under their wire name) so the validator refuses them by name:
 * the object is closed.
 */
export function fromWirePolicyKeys(wire: WireActionPolicyKeys): ActionPolicyKeys {
  if (!isObject(wire)) return wire;
  const keys: Record<string, unknown> = {};
  const apiName = new Map<string, string>(Object.entries(KEYS).map(([name, [wireName]]) => [wireName, name]));
  for (const [name, value] of Object.entries(wire)) {
    if (value === undefined || value === null) continue;
    if (name === 'custom') keys.custom = isObject(value) ? { ...value } : value;
    else keys[apiName.get(name) ?? name] = value;
  }
  return keys as ActionPolicyKeys;
}
