import { OVERAGE_POLICIES, RESERVATION_STATUSES, SUBJECT_LEVELS, UNITS } from './enums.ts';
import { invalid } from './errors.ts';
import { validateObserveMode } from './observe-mode.ts';
import { validatePolicyKeys } from './policy-keys.ts';
import type {
  Action,
  Amount,
  BalancesQuery,
  CommitRequest,
  DecideRequest,
  EventRequest,
  ExtendRequest,
  ListReservationsQuery,
  ReleaseRequest,
  ReserveRequest,
  StandardMetrics,
  Subject,
} from './types.ts';

// Request validation for every runtime operation (PROTOCOL.md §1.1–§1.3). Each check throws
// InvalidRequestError naming the field and the fix before any state is touched.

const NAME_PATTERN = /^[a-zA-Z0-9_.-]+$/;
const SORT_KEYS = [
  'reservation_id',
  'tenant',
  'scope_path',
  'status',
  'reserved',
  'created_at_ms',
  'expires_at_ms',
];

/** A plain object (not null, not an array): the one definition core's validators share. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkString(value: unknown, field: string, max: number, min = 1): void {
  if (typeof value !== 'string')
    throw invalid(field, 'must be a string', `pass a string of ${min}–${max} chars`);
  if (value.length < min || value.length > max) {
    throw invalid(field, `must be ${min}–${max} chars (got ${value.length})`, 'shorten or fill it in');
  }
  checkWellFormed(value, field);
}

/**
 * Refuses lone surrogates: UTF-8 stores (Redis, the wire) turn each into U+FFFD, so two distinct keys
 * would become one. Refused everywhere, so every ledger agrees on what is valid.
 */
function checkWellFormed(value: string, field: string): void {
  if (!(value as WellFormed).isWellFormed()) {
    throw invalid(field, 'has a lone surrogate (not well-formed UTF-16)', 'send valid Unicode text');
  }
}

/** `String.prototype.isWellFormed` (ES2024; Node ≥ 20), not yet in the ES2023 lib this builds with. */
type WellFormed = string & { isWellFormed(): boolean };

/** Deepest nesting of a free-form JSON field (`metadata`, `metrics.custom`): generous for real metadata. */
export const MAX_JSON_DEPTH = 32;
/** Largest free-form JSON field, in characters of its JSON text (approximate: strings count their length). */
export const MAX_JSON_CHARS = 65_536;

/**
 * Throws unless `value` is plain JSON (null, booleans, finite numbers, well-formed strings, arrays and
 * plain objects) at most {@link MAX_JSON_DEPTH} deep and about {@link MAX_JSON_CHARS} characters. Runs
 * before any state changes, so a cyclic, deep or huge value is refused, never half-applied. The error
 * names the path to the offending value (`metadata.trace.self`).
 */
export function checkJsonValue(value: unknown, field: string): void {
  const path = [field];
  if (jsonSize(value, path, 0) > MAX_JSON_CHARS) {
    throw invalid(field, `is larger than ${MAX_JSON_CHARS} characters of JSON`, 'send less metadata');
  }
}

/** `a.b.c`, or its first 8 keys and the depth when deeper (keys shortened: they are the caller's data). */
function pathText(path: readonly string[]): string {
  const keys = path.slice(0, 8).map(shown);
  return path.length > 8 ? `${keys.join('.')}…(${path.length - 1} levels)` : keys.join('.');
}

/** The running size after the value at `path`; throws on the first thing that is not plain JSON. */
function jsonSize(value: unknown, path: string[], size: number): number {
  if (size > MAX_JSON_CHARS) {
    throw invalid(path[0]!, `is larger than ${MAX_JSON_CHARS} characters of JSON`, 'send less metadata');
  }
  switch (typeof value) {
    case 'string':
      checkWellFormed(value, path.length === 1 ? path[0]! : pathText(path));
      return size + value.length + 2;
    case 'boolean':
      return size + 5;
    case 'number':
      if (!Number.isFinite(value)) throw invalid(pathText(path), `is ${value}`, 'send finite numbers only');
      return size + 8;
    case 'object':
      break;
    case 'bigint':
      throw invalid(pathText(path), 'is a BigInt, which JSON cannot hold', 'send a number or a string');
    default:
      throw invalid(
        pathText(path),
        `is ${value === undefined ? 'undefined' : `a ${typeof value}`}`,
        'send JSON values only',
      );
  }
  if (value === null) return size + 4;
  if (path.length > MAX_JSON_DEPTH) {
    throw invalid(pathText(path), `nests deeper than ${MAX_JSON_DEPTH} levels (or is cyclic)`, 'flatten it');
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      path.push(String(i));
      size = jsonSize(value[i], path, size + 1);
      path.pop();
    }
    return size + 2;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) {
    throw invalid(
      pathText(path),
      'is not a plain object (a Date, Map, class instance ...)',
      'send plain JSON',
    );
  }
  for (const key in value) {
    const member = (value as Record<string, unknown>)[key];
    if (member === undefined) continue;
    path.push(key);
    if (!(key as WellFormed).isWellFormed()) {
      throw invalid(pathText(path), 'has a key with a lone surrogate', 'send valid Unicode text');
    }
    size = jsonSize(member, path, size + key.length + 4);
    path.pop();
  }
  return size + 2;
}

function checkInt(value: unknown, field: string, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(field, `must be an integer in ${min}–${max}`, `got ${shown(value)}`);
  }
}

/** Throws unless `key` is a 1–256 char idempotency key. */
export function validateIdempotencyKey(key: unknown, field = 'idempotencyKey'): void {
  checkString(key, field, 256);
}

/** Field names of the default `subject` levels, built once (not per request). */
const SUBJECT_FIELDS: Record<string, string> = Object.fromEntries(
  SUBJECT_LEVELS.map((level) => [level, `subject.${level}`]),
);

// Module-level, safe: six strings at most (one per level), and whether a string is valid depends on the
// string alone, so skipping the check for an identical one gives every caller (and tenant) the same answer.
/** The last valid value seen per level (callers repeat subjects: skip the regex for a repeat). */
const lastValid: Record<string, string> = {};

/** Throws unless `subject` has ≥1 standard level, each ≤128 chars of `[a-zA-Z0-9_.-]`, and valid dimensions. */
export function validateSubject(subject: unknown, field = 'subject'): asserts subject is Subject {
  if (!isObject(subject)) throw invalid(field, 'is required', 'pass an object with at least `tenant`');
  let levels = 0;
  for (const level of SUBJECT_LEVELS) {
    const value = subject[level];
    if (value === undefined) continue;
    levels++;
    if (value === lastValid[level]) continue;
    const name = field === 'subject' ? SUBJECT_FIELDS[level]! : `${field}.${level}`;
    checkString(value, name, 128);
    if (!NAME_PATTERN.test(value as string)) {
      throw invalid(name, 'has characters outside [a-zA-Z0-9_.-]', 'use letters, digits, _ . -');
    }
    lastValid[level] = value as string;
  }
  if (levels === 0) {
    throw invalid(
      field,
      'needs at least one standard field',
      'set tenant (and optionally workspace/app/...)',
    );
  }
  const dimensions = subject.dimensions;
  if (dimensions !== undefined) {
    if (!isObject(dimensions))
      throw invalid(`${field}.dimensions`, 'must be an object of strings', 'pass {k: v}');
    const entries = Object.entries(dimensions);
    if (entries.length > 16) throw invalid(`${field}.dimensions`, 'has more than 16 entries', 'keep ≤ 16');
    for (const [name, value] of entries) {
      checkString(name, `${field}.dimensions (a key)`, 128);
      checkString(value, `${field}.dimensions.${name}`, 256, 0);
    }
  }
  // Stores keep the subject as given: an unknown member could be anything (cyclic, huge), so refuse it.
  let members = levels + (dimensions === undefined ? 0 : 1);
  for (const key in subject) if (subject[key] !== undefined) members--;
  if (members < 0) throw unknownMember(subject, [...SUBJECT_LEVELS, 'dimensions'], field);
}

function unknownMember(value: Record<string, unknown>, known: readonly string[], field: string): never {
  const name = Object.keys(value).find((key) => value[key] !== undefined && !known.includes(key)) ?? '?';
  throw invalid(`${field}.${shown(name)}`, 'is not a known field', `use only ${known.join(', ')}`);
}

/** A value for an error message: at most 64 characters, never throwing. */
function shown(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'string' ? value : String(value);
  } catch {
    text = typeof value;
  }
  return text.length > 64 ? `${text.slice(0, 61)}...` : text;
}

/** Throws unless `action` has kind (≤64), name (≤256) and ≤10 tags of ≤64 chars. */
export function validateAction(action: unknown, field = 'action'): asserts action is Action {
  if (!isObject(action)) throw invalid(field, 'is required', 'pass { kind, name }');
  checkString(action.kind, field === 'action' ? 'action.kind' : `${field}.kind`, 64);
  checkString(action.name, field === 'action' ? 'action.name' : `${field}.name`, 256);
  if (action.tags !== undefined) {
    if (!Array.isArray(action.tags)) throw invalid(`${field}.tags`, 'must be an array', 'pass string[]');
    if (action.tags.length > 10) throw invalid(`${field}.tags`, 'has more than 10 tags', 'keep ≤ 10');
    action.tags.forEach((tag, index) => {
      checkString(tag, `${field}.tags[${index}]`, 64);
    });
  }
  if (action.policyKeys !== undefined) validatePolicyKeys(action.policyKeys, `${field}.policyKeys`);
  for (const key in action) {
    if (
      key !== 'kind' &&
      key !== 'name' &&
      key !== 'tags' &&
      key !== 'policyKeys' &&
      action[key] !== undefined
    )
      unknownMember(action, ['kind', 'name', 'tags', 'policyKeys'], field);
  }
}

/** Throws unless `amount` is `{ unit, amount }` with a known unit and a non-negative safe integer. */
export function validateAmount(amount: unknown, field: string): asserts amount is Amount {
  if (!isObject(amount)) throw invalid(field, 'is required', 'pass { unit, amount }');
  if (!UNITS.includes(amount.unit as Amount['unit'])) {
    throw invalid(`${field}.unit`, `must be one of ${UNITS.join(', ')}`, `got ${shown(amount.unit)}`);
  }
  const value = amount.amount;
  // Checked inline so the field name is only built for the error.
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    checkInt(value, `${field}.amount`, 0, Number.MAX_SAFE_INTEGER);
  }
}

function validateOverage(policy: unknown, field: string): void {
  if (policy !== undefined && !OVERAGE_POLICIES.includes(policy as never)) {
    throw invalid(field, `must be one of ${OVERAGE_POLICIES.join(', ')}`, `got ${shown(policy)}`);
  }
}

/** An optional count: absent, or an integer ≥ 0 (the field name is a literal, built once). */
function checkCount(value: unknown, field: string): void {
  if (value !== undefined) checkInt(value, field, 0, Number.MAX_SAFE_INTEGER);
}

function validateMetrics(metrics: StandardMetrics | undefined): void {
  if (metrics === undefined) return;
  if (!isObject(metrics)) throw invalid('metrics', 'must be an object', 'pass { tokensInput, ... }');
  checkCount(metrics.tokensInput, 'metrics.tokensInput');
  checkCount(metrics.tokensOutput, 'metrics.tokensOutput');
  checkCount(metrics.latencyMs, 'metrics.latencyMs');
  if (metrics.modelVersion !== undefined) checkString(metrics.modelVersion, 'metrics.modelVersion', 128, 0);
  for (const key in metrics) {
    const value = (metrics as Record<string, unknown>)[key];
    if (value === undefined || STANDARD_METRICS.has(key)) continue;
    if (key === 'custom') validateMetadata(value, 'metrics.custom');
    else checkJsonValue(value, 'metrics');
  }
}

const STANDARD_METRICS = new Set(['tokensInput', 'tokensOutput', 'latencyMs', 'modelVersion']);

function validateMetadata(metadata: unknown, field: string): void {
  if (metadata === undefined) return;
  if (!isObject(metadata)) throw invalid(field, 'must be an object', 'pass a plain object');
  checkJsonValue(metadata, field);
}

/** Validates a reserve (or dry_run) request. */
export function validateReserve(request: ReserveRequest): void {
  if (!isObject(request)) throw invalid('request', 'is required', 'pass a reserve request object');
  validateIdempotencyKey(request.idempotencyKey);
  validateSubject(request.subject);
  validateAction(request.action);
  validateAmount(request.estimate, 'estimate');
  if (request.ttlMs !== undefined) checkInt(request.ttlMs, 'ttlMs', 1000, 86_400_000);
  if (request.gracePeriodMs !== undefined) checkInt(request.gracePeriodMs, 'gracePeriodMs', 0, 60_000);
  validateOverage(request.overagePolicy, 'overagePolicy');
  if (request.dryRun !== undefined && typeof request.dryRun !== 'boolean') {
    throw invalid('dryRun', 'must be a boolean', 'pass true or false');
  }
  validateObserveMode(request.observeMode, 'observeMode');
  validateMetadata(request.metadata, 'metadata');
  if (request.minimum !== undefined) {
    checkInt(request.minimum, 'minimum', 0, request.estimate.amount);
  }
}

/** Validates a commit request. */
export function validateCommit(request: CommitRequest): void {
  if (!isObject(request)) throw invalid('request', 'is required', 'pass a commit request object');
  validateIdempotencyKey(request.idempotencyKey);
  validateAmount(request.actual, 'actual');
  validateMetrics(request.metrics);
  validateMetadata(request.metadata, 'metadata');
}

/** Validates a release request. */
export function validateRelease(request: ReleaseRequest): void {
  if (!isObject(request)) throw invalid('request', 'is required', 'pass a release request object');
  validateIdempotencyKey(request.idempotencyKey);
  if (request.reason !== undefined) checkString(request.reason, 'reason', 256, 0);
}

/** Validates an extend request. */
export function validateExtend(request: ExtendRequest): void {
  if (!isObject(request)) throw invalid('request', 'is required', 'pass an extend request object');
  validateIdempotencyKey(request.idempotencyKey);
  checkInt(request.extendByMs, 'extendByMs', 1, 86_400_000);
  validateMetadata(request.metadata, 'metadata');
}

/** Validates a decide request. */
export function validateDecide(request: DecideRequest): void {
  if (!isObject(request)) throw invalid('request', 'is required', 'pass a decide request object');
  validateIdempotencyKey(request.idempotencyKey);
  validateSubject(request.subject);
  validateAction(request.action);
  validateAmount(request.estimate, 'estimate');
  validateMetadata(request.metadata, 'metadata');
}

/** Validates an event request. */
export function validateEvent(request: EventRequest): void {
  if (!isObject(request)) throw invalid('request', 'is required', 'pass an event request object');
  validateIdempotencyKey(request.idempotencyKey);
  validateSubject(request.subject);
  validateAction(request.action);
  validateAmount(request.actual, 'actual');
  validateOverage(request.overagePolicy, 'overagePolicy');
  validateMetrics(request.metrics);
  if (request.clientTimeMs !== undefined)
    checkInt(request.clientTimeMs, 'clientTimeMs', 0, Number.MAX_SAFE_INTEGER);
  validateMetadata(request.metadata, 'metadata');
}

/** Validates a reservation id from a path (1–128 chars). */
export function validateReservationId(reservationId: unknown): void {
  checkString(reservationId, 'reservationId', 128);
}

function validateLimit(limit: unknown): void {
  if (limit !== undefined) checkInt(limit, 'limit', 1, 200);
}

/** Validates a balances query: at least one subject filter, limit 1–200. */
export function validateBalancesQuery(query: BalancesQuery): void {
  if (!isObject(query)) throw invalid('query', 'is required', 'pass at least { tenant }');
  if (!SUBJECT_LEVELS.some((level) => query[level] !== undefined && query[level] !== '')) {
    throw invalid(
      'query',
      'needs at least one of tenant/workspace/app/workflow/agent/toolset',
      'add a filter',
    );
  }
  for (const level of SUBJECT_LEVELS) {
    const value = query[level];
    if (value !== undefined && value !== '') checkString(value, level, 128);
  }
  validateLimit(query.limit);
  if (query.cursor !== undefined && typeof query.cursor !== 'string') {
    throw invalid('cursor', 'must be a string', 'pass the nextCursor you were given');
  }
}

function checkWindow(
  query: ListReservationsQuery,
  from: keyof ListReservationsQuery,
  to: keyof ListReservationsQuery,
) {
  const start = query[from];
  const end = query[to];
  if (start !== undefined) checkInt(start, from, 0, Number.MAX_SAFE_INTEGER);
  if (end !== undefined) checkInt(end, to, 0, Number.MAX_SAFE_INTEGER);
  if (typeof start === 'number' && typeof end === 'number' && start > end) {
    throw invalid(from, `is after ${to}`, `swap them or widen the window`);
  }
}

/** Validates a list-reservations query (filters, windows with from ≤ to, sort, limit 1–200). */
export function validateListQuery(query: ListReservationsQuery): void {
  if (!isObject(query)) throw invalid('query', 'must be an object', 'pass {} for no filters');
  if (query.idempotencyKey !== undefined && query.idempotencyKey !== '')
    validateIdempotencyKey(query.idempotencyKey);
  if (query.status !== undefined && !RESERVATION_STATUSES.includes(query.status as never)) {
    throw invalid(
      'status',
      `must be one of ${RESERVATION_STATUSES.join(', ')}`,
      `got ${shown(query.status)}`,
    );
  }
  checkWindow(query, 'fromMs', 'toMs');
  checkWindow(query, 'expiresFromMs', 'expiresToMs');
  checkWindow(query, 'finalizedFromMs', 'finalizedToMs');
  if (query.sortBy !== undefined && !SORT_KEYS.includes(query.sortBy as string)) {
    throw invalid('sortBy', `must be one of ${SORT_KEYS.join(', ')}`, `got ${shown(query.sortBy)}`);
  }
  if (query.sortDir !== undefined && query.sortDir !== 'asc' && query.sortDir !== 'desc') {
    throw invalid('sortDir', 'must be asc or desc', `got ${shown(query.sortDir)}`);
  }
  validateLimit(query.limit);
}
