// Core's errors name fields as its API does (`ttlMs`, `metrics.tokensInput`); over HTTP they must carry
// the protocol's names (`ttl_ms`, `metrics.tokens_input`). The one mapping, applied where an error
// becomes an `ErrorResponse` (`toWireErrorResponse`), so embedded users keep the names they pass.
// Only errors of core's validators are renamed (`invalid()` marks them): a field a server names from
// the wire request, e.g. a client's misspelt `ttlMs` or `?sortBy=`, is what the client sent.

/** Marks an error whose `details.field` is an API (camelCase) path. */
export const API_FIELD: unique symbol = Symbol.for('cycles-guard.error.apiField');

/** Whether `error` names its field by core's API path (and so needs the wire name over HTTP). */
export function namesApiField(error: object): boolean {
  return (error as { [API_FIELD]?: boolean })[API_FIELD] === true;
}

/** Every API field name whose wire name differs. User keys (metadata, dimensions, custom) never are. */
const WIRE_NAMES: Readonly<Record<string, string>> = {
  idempotencyKey: 'idempotency_key',
  ttlMs: 'ttl_ms',
  gracePeriodMs: 'grace_period_ms',
  overagePolicy: 'overage_policy',
  dryRun: 'dry_run',
  observeMode: 'observe_mode',
  extendByMs: 'extend_by_ms',
  clientTimeMs: 'client_time_ms',
  reservationId: 'reservation_id',
  policyKeys: 'policy_keys',
  recipientDomain: 'recipient_domain',
  resourceType: 'resource_type',
  pathPrefix: 'path_prefix',
  tokensInput: 'tokens_input',
  tokensOutput: 'tokens_output',
  latencyMs: 'latency_ms',
  modelVersion: 'model_version',
  maxTokens: 'max_tokens',
  maxStepsRemaining: 'max_steps_remaining',
  toolAllowlist: 'tool_allowlist',
  toolDenylist: 'tool_denylist',
  cooldownMs: 'cooldown_ms',
  includeChildren: 'include_children',
  sortBy: 'sort_by',
  sortDir: 'sort_dir',
};

/** Segments after which a path runs through the caller's own keys, kept verbatim. */
const OPEN_MAPS: ReadonlySet<string> = new Set(['metadata', 'dimensions', 'custom']);

/** `metrics.tokensInput` → `metrics.tokens_input`, `action.tags[3]` unchanged, user keys untouched. */
export function toWireField(field: string): string {
  const segments = field.split('.');
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const bracket = segment.indexOf('[');
    const name = bracket < 0 ? segment : segment.slice(0, bracket);
    const wire = WIRE_NAMES[name];
    if (wire !== undefined) segments[i] = wire + segment.slice(name.length);
    if (OPEN_MAPS.has(name)) break;
  }
  return segments.join('.');
}

const CAMEL_WORD = new RegExp(`\\b(${Object.keys(WIRE_NAMES).join('|')})\\b`, 'g');

/**
 * The message of an error about `field` with the protocol's names: the field path itself, then any API
 * name listed in the fix ("use only kind, name, tags, policyKeys"). Only a message that starts with the
 * field is rewritten: those are the validators' own (`invalid(field, problem, fix)`).
 */
export function toWireMessage(message: string, field: string): string {
  if (!message.startsWith(field)) return message;
  const rest = message.slice(field.length).replace(CAMEL_WORD, (name) => WIRE_NAMES[name]!);
  return toWireField(field) + rest;
}
