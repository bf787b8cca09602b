import { InvalidRequestError } from '@cycles-guard/core';

// The spec's request schemas are `additionalProperties: false`: a field we do not know is refused with
// 400 rather than silently dropped, so a client typo (`ttl` for `ttl_ms`) never goes unnoticed.

/** A nested shape: the allowed keys, and for some of them the shape of their value. Open maps are `OPEN`. */
interface Shape {
  keys: readonly string[];
  nested?: Record<string, Shape | 'OPEN'>;
}

const AMOUNT: Shape = { keys: ['unit', 'amount'] };
const SUBJECT: Shape = {
  keys: ['tenant', 'workspace', 'app', 'workflow', 'agent', 'toolset', 'dimensions'],
  nested: { dimensions: 'OPEN' },
};
const ACTION: Shape = {
  keys: ['kind', 'name', 'tags', 'policy_keys'],
  nested: {
    policy_keys: {
      keys: ['host', 'recipient_domain', 'resource_type', 'path_prefix', 'custom'],
      nested: { custom: 'OPEN' },
    },
  },
};
const METRICS: Shape = {
  keys: ['tokens_input', 'tokens_output', 'latency_ms', 'model_version', 'custom'],
  nested: { custom: 'OPEN' },
};

/** Request bodies of the runtime operations, by operation. */
export const REQUEST_SHAPES = {
  reserve: {
    keys: [
      'idempotency_key',
      'subject',
      'action',
      'estimate',
      'ttl_ms',
      'grace_period_ms',
      'overage_policy',
      'dry_run',
      'observe_mode',
      'metadata',
    ],
    nested: { subject: SUBJECT, action: ACTION, estimate: AMOUNT, metadata: 'OPEN' },
  },
  commit: {
    keys: ['idempotency_key', 'actual', 'metrics', 'metadata'],
    nested: { actual: AMOUNT, metrics: METRICS, metadata: 'OPEN' },
  },
  release: { keys: ['idempotency_key', 'reason'] },
  extend: { keys: ['idempotency_key', 'extend_by_ms', 'metadata'], nested: { metadata: 'OPEN' } },
  decide: {
    keys: ['idempotency_key', 'subject', 'action', 'estimate', 'metadata'],
    nested: { subject: SUBJECT, action: ACTION, estimate: AMOUNT, metadata: 'OPEN' },
  },
  event: {
    keys: [
      'idempotency_key',
      'subject',
      'action',
      'actual',
      'overage_policy',
      'metrics',
      'client_time_ms',
      'metadata',
    ],
    nested: { subject: SUBJECT, action: ACTION, actual: AMOUNT, metrics: METRICS, metadata: 'OPEN' },
  },
} as const satisfies Record<string, Shape>;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A request key as shown in an error: cut to 64 chars (keys are the caller's bytes, up to the body limit). */
export function shownKey(key: string): string {
  return key.length > 64 ? `${key.slice(0, 64)}…` : key;
}

function check(value: Record<string, unknown>, shape: Shape, path: string): void {
  for (const [key, child] of Object.entries(value)) {
    const field = path === '' ? shownKey(key) : `${path}.${shownKey(key)}`;
    if (!shape.keys.includes(key)) {
      throw new InvalidRequestError(
        `${field} is not a field of this request: remove it (allowed: ${shape.keys.join(', ')})`,
        {
          details: { field },
        },
      );
    }
    const nested = shape.nested?.[key];
    if (nested !== undefined && nested !== 'OPEN' && isObject(child)) check(child, nested, field);
  }
}

/** Throws 400 INVALID_REQUEST unless `body` is a JSON object with only the operation's fields. */
export function assertKnownFields(body: unknown, shape: Shape): asserts body is Record<string, unknown> {
  if (!isObject(body)) {
    throw new InvalidRequestError('The request body must be a JSON object', { details: { field: 'body' } });
  }
  check(body, shape, '');
}
