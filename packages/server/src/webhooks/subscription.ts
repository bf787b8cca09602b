import { randomBytes } from 'node:crypto';
import { InvalidRequestError } from '@cycles-guard/core';
import {
  EVENT_CATEGORIES,
  EVENT_TYPES,
  retryPolicyOf,
  SYSTEM_TENANT,
  TENANT_CATEGORIES,
} from '@cycles-guard/core/ledger-kit';
import type { ProtocolEvent } from '@cycles-guard/core/webhooks';
import { globMatches } from './glob.ts';
import { checkThresholds, type ThresholdConfig } from './thresholds.ts';
import type { WebhookUrlGuard } from './url-guard.ts';

// GOV `WebhookSubscription`: parsing of create and update requests (both subscription invariants checked
// on the resulting state, before anything is stored), matching of events, and the masked read shape.

/** A stored subscription, in its wire shape plus the write-only secret and header values. */
export interface SubscriptionRecord {
  subscription_id: string;
  tenant_id: string;
  name?: string;
  description?: string;
  url: string;
  event_types: string[];
  event_categories?: string[];
  scope_filter?: string;
  thresholds?: ThresholdConfig;
  signing_secret: string;
  headers?: Record<string, string>;
  status: 'ACTIVE' | 'PAUSED' | 'DISABLED';
  retry_policy: {
    max_retries: number;
    initial_delay_ms: number;
    backoff_multiplier: number;
    max_delay_ms: number;
  };
  disable_after_failures: number;
  consecutive_failures: number;
  created_at: string;
  updated_at?: string;
  last_triggered_at?: string;
  last_success_at?: string;
  last_failure_at?: string;
  metadata?: Record<string, unknown>;
}

const CREATE_FIELDS = [
  'name',
  'description',
  'url',
  'event_types',
  'event_categories',
  'scope_filter',
  'thresholds',
  'signing_secret',
  'headers',
  'retry_policy',
  'disable_after_failures',
  'metadata',
];
const UPDATE_FIELDS = [...CREATE_FIELDS, 'status'];
/** Headers the delivery sets itself: a subscription may not replace what is signed or traced. */
const RESERVED_HEADERS = new Set([
  'content-type',
  'content-length',
  'host',
  'user-agent',
  'x-cycles-event-id',
  'x-cycles-event-type',
  'x-cycles-signature',
  'x-cycles-trace-id',
  'traceparent',
  // Hop-by-hop and framing: the HTTP client owns them (undici refuses most, failing every attempt).
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'expect',
  'te',
  'trailer',
  'proxy-authorization',
  'proxy-connection',
  // The body is sent as is: an encoding would misdescribe the signed bytes.
  'content-encoding',
]);
/** A header value as sent: printable ASCII and tabs (no CR/LF to split it, no bytes a client may mangle). */
const HEADER_VALUE = /^[\t\x20-\x7e]{0,4096}$/;

function fail(field: string, problem: string): never {
  throw new InvalidRequestError(`${field} ${problem}`, { details: { field } });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(body: Record<string, unknown>, field: string, max: number): string | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length > max)
    fail(field, `must be a string of at most ${max} characters`);
  return value;
}

function checkUrl(value: unknown, guard: WebhookUrlGuard): string {
  if (typeof value !== 'string' || value.length > 2048)
    fail('url', 'must be a URL of at most 2048 characters');
  guard.checkForm(value);
  return value;
}

function list(value: unknown, field: string, allowed: readonly string[]): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) fail(field, 'must be an array');
  for (const item of value) {
    if (typeof item !== 'string' || !allowed.includes(item)) {
      fail(field, `has ${JSON.stringify(String(item).slice(0, 64))}, which is not one of the spec's values`);
    }
  }
  return [...new Set(value as string[])];
}

function checkHeaders(value: unknown): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) fail('headers', 'must be an object of header names to string values');
  for (const [name, header] of Object.entries(value)) {
    if (typeof header !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/.test(name)) {
      fail('headers', `has an invalid header ${JSON.stringify(name.slice(0, 64))}`);
    }
    if (RESERVED_HEADERS.has(name.toLowerCase()))
      fail('headers', `may not set ${name}: the delivery sets it`);
    if (!HEADER_VALUE.test(header)) {
      fail(
        'headers',
        `has a value for ${name} that is not ≤ 4096 printable ASCII characters (no line breaks)`,
      );
    }
  }
  return value as Record<string, string>;
}

function checkRetry(value: unknown): SubscriptionRecord['retry_policy'] {
  if (value !== undefined && !isObject(value)) fail('retry_policy', 'must be an object');
  const wire = (value ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(wire)) {
    if (!['max_retries', 'initial_delay_ms', 'backoff_multiplier', 'max_delay_ms'].includes(key)) {
      fail(`retry_policy.${key.slice(0, 64)}`, 'is not a field of WebhookRetryPolicy');
    }
  }
  const policy = retryPolicyOf({
    ...(wire.max_retries === undefined ? {} : { maxRetries: wire.max_retries as number }),
    ...(wire.initial_delay_ms === undefined ? {} : { initialDelayMs: wire.initial_delay_ms as number }),
    ...(wire.backoff_multiplier === undefined
      ? {}
      : { backoffMultiplier: wire.backoff_multiplier as number }),
    ...(wire.max_delay_ms === undefined ? {} : { maxDelayMs: wire.max_delay_ms as number }),
  });
  return {
    max_retries: policy.maxRetries,
    initial_delay_ms: policy.initialDelayMs,
    backoff_multiplier: policy.backoffMultiplier,
    max_delay_ms: policy.maxDelayMs,
  };
}

/** Both subscription invariants, on the state that would be stored (GOV info.description). */
function checkInvariants(record: SubscriptionRecord): void {
  const categories = record.event_categories ?? [];
  if (record.event_types.length === 0 && categories.length === 0) {
    fail(
      'event_types',
      'and event_categories are both empty: a subscription must select at least one of them',
    );
  }
  if (record.tenant_id === SYSTEM_TENANT) return;
  for (const type of record.event_types) {
    if (!TENANT_CATEGORIES.includes(type.slice(0, type.indexOf('.')) as never)) {
      fail(
        'event_types',
        `has ${type}: a tenant's subscription may select budget, reservation and tenant events only`,
      );
    }
  }
  for (const category of categories) {
    if (!TENANT_CATEGORIES.includes(category as never)) {
      fail(
        'event_categories',
        `has ${category}: a tenant's subscription may select budget, reservation and tenant only`,
      );
    }
  }
}

function knownFields(body: unknown, fields: readonly string[]): Record<string, unknown> {
  if (!isObject(body)) fail('body', 'must be a JSON object');
  for (const key of Object.keys(body)) {
    if (!fields.includes(key))
      fail(key.slice(0, 64), `is not a field of this request: use ${fields.join(', ')}`);
  }
  return body;
}

/** A new subscription from a `WebhookCreateRequest` for `tenant` (`__system__` for system-wide). */
export function createSubscription(
  body: unknown,
  tenant: string,
  guard: WebhookUrlGuard,
  nowMs: number,
): SubscriptionRecord {
  const request = knownFields(body, CREATE_FIELDS);
  const types = list(request.event_types, 'event_types', EVENT_TYPES);
  if (types === undefined || types.length === 0)
    fail('event_types', 'is required and must not be empty on create');
  const secret = text(request, 'signing_secret', 512);
  if (secret !== undefined && secret.length < 16) fail('signing_secret', 'must be at least 16 characters');
  const record: SubscriptionRecord = {
    subscription_id: `whsub_${randomBytes(12).toString('hex')}`,
    tenant_id: tenant,
    url: checkUrl(request.url, guard),
    event_types: types,
    signing_secret: secret ?? `whsec_${randomBytes(24).toString('base64url')}`,
    status: 'ACTIVE',
    retry_policy: checkRetry(request.retry_policy),
    disable_after_failures: checkDisableAfter(request.disable_after_failures) ?? 10,
    consecutive_failures: 0,
    created_at: new Date(nowMs).toISOString(),
  };
  applyOptional(record, request);
  checkInvariants(record);
  return record;
}

function checkDisableAfter(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 1_000_000) {
    fail('disable_after_failures', 'must be an integer of at least 1');
  }
  return value as number;
}

function applyOptional(record: SubscriptionRecord, request: Record<string, unknown>): void {
  const name = text(request, 'name', 256);
  if (name !== undefined) record.name = name;
  const description = text(request, 'description', 1024);
  if (description !== undefined) record.description = description;
  const categories = list(request.event_categories, 'event_categories', EVENT_CATEGORIES);
  if (categories !== undefined) record.event_categories = categories;
  const scopeFilter = text(request, 'scope_filter', 1024);
  if (scopeFilter !== undefined) record.scope_filter = scopeFilter;
  const thresholds = checkThresholds(request.thresholds);
  if (thresholds !== undefined) record.thresholds = thresholds;
  const headers = checkHeaders(request.headers);
  if (headers !== undefined) record.headers = headers;
  if (request.metadata !== undefined) {
    if (!isObject(request.metadata)) fail('metadata', 'must be an object');
    record.metadata = request.metadata;
  }
}

/**
 * The subscription after a `WebhookUpdateRequest`, validated as a whole (the invariants hold on the
 * merged state). `status: ACTIVE` re-enables a DISABLED or PAUSED one and resets its failure count.
 */
export function updateSubscription(
  current: SubscriptionRecord,
  body: unknown,
  guard: WebhookUrlGuard,
  nowMs: number,
): SubscriptionRecord {
  const request = knownFields(body, UPDATE_FIELDS);
  const next: SubscriptionRecord = { ...current, updated_at: new Date(nowMs).toISOString() };
  if (request.url !== undefined) next.url = checkUrl(request.url, guard);
  if (request.event_types !== undefined)
    next.event_types = list(request.event_types, 'event_types', EVENT_TYPES)!;
  if (request.retry_policy !== undefined) next.retry_policy = checkRetry(request.retry_policy);
  const disableAfter = checkDisableAfter(request.disable_after_failures);
  if (disableAfter !== undefined) next.disable_after_failures = disableAfter;
  if (request.signing_secret !== undefined) {
    const secret = text(request, 'signing_secret', 512)!;
    if (secret.length < 16) fail('signing_secret', 'must be at least 16 characters');
    next.signing_secret = secret;
  }
  if (request.status !== undefined) {
    if (request.status !== 'ACTIVE' && request.status !== 'PAUSED')
      fail('status', 'must be ACTIVE or PAUSED');
    next.status = request.status;
    if (request.status === 'ACTIVE') next.consecutive_failures = 0;
  }
  applyOptional(next, request);
  checkInvariants(next);
  return next;
}

/** The subscription as read: no secret, header values masked (GOV: write-only). */
export function toWireSubscription(record: SubscriptionRecord): Record<string, unknown> {
  const { signing_secret: _secret, headers, ...shown } = record;
  const wire: Record<string, unknown> = { ...shown };
  if (headers !== undefined)
    wire.headers = Object.fromEntries(Object.keys(headers).map((name) => [name, '********']));
  return wire;
}

/** Whether a subscription receives an event: its tenant's (or every tenant's for `__system__`), selected, in scope. */
export function selects(record: SubscriptionRecord, event: ProtocolEvent): boolean {
  if (record.tenant_id !== SYSTEM_TENANT && record.tenant_id !== event.tenant_id) return false;
  if (
    !record.event_types.includes(event.event_type) &&
    !(record.event_categories ?? []).includes(event.category)
  ) {
    return false;
  }
  return inScope(record, event);
}

/** Whether an event is inside the subscription's `scope_filter` (`*` matches anything; none matches all). */
export function inScope(record: SubscriptionRecord, event: ProtocolEvent): boolean {
  if (record.scope_filter === undefined) return true;
  if (event.scope === undefined) return false;
  return globMatches(record.scope_filter, event.scope);
}
