import { gzipSync } from 'node:zlib';
import fc from 'fast-check';

// A generator of malformed requests to every route of cycles-guard-server: valid bodies with one field
// replaced by a hostile JSON token (deep, huge, lone surrogates, wrong types, NaN/Infinity-like, 2^63,
// unknown fields) or removed, bytes corrupted, the wrong media type or charset, hostile path ids, query
// strings and headers, and wrong methods.

/**
 * One request as sent, once the sender has replaced `{id}` in the path by a fresh ACTIVE reservation's
 * id and the key placeholder in the body by a fresh idempotency key (`withKey`).
 */
export interface Malformed {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export const API_KEY = 'acme-key-0001';
export const OTHER_KEY = 'beta-key-0001';
export const ADMIN_KEY = 'admin-key-for-tests-0123456789';
const KEY = '\u0001KEY';
const KEY_TEXT = JSON.stringify(KEY);

const SUBJECT = { tenant: 'acme', app: 'chat', dimensions: { user: 'u-1' } };
const ACTION = { kind: 'llm.completion', name: 'model-x', tags: ['t'] };
const METRICS = { tokens_input: 1, tokens_output: 2, latency_ms: 3, model_version: 'v', custom: { x: 1 } };

interface Route {
  method: string;
  path: string;
  admin?: boolean;
  body?: Record<string, unknown>;
}

/** Every route with a valid request; the generator breaks them. */
export const ROUTES: readonly Route[] = [
  {
    method: 'POST',
    path: '/v1/reservations',
    body: {
      idempotency_key: KEY,
      subject: SUBJECT,
      action: ACTION,
      estimate: { unit: 'TOKENS', amount: 5 },
      ttl_ms: 60_000,
      grace_period_ms: 1000,
      overage_policy: 'REJECT',
      dry_run: false,
      metadata: { a: { b: [1, 'x'] } },
    },
  },
  {
    method: 'POST',
    path: '/v1/reservations/{id}/commit',
    body: {
      idempotency_key: KEY,
      actual: { unit: 'TOKENS', amount: 3 },
      metrics: METRICS,
      metadata: { a: 1 },
    },
  },
  { method: 'POST', path: '/v1/reservations/{id}/release', body: { idempotency_key: KEY, reason: 'done' } },
  {
    method: 'POST',
    path: '/v1/reservations/{id}/extend',
    body: { idempotency_key: KEY, extend_by_ms: 1000, metadata: { a: 1 } },
  },
  {
    method: 'POST',
    path: '/v1/decide',
    body: { idempotency_key: KEY, subject: SUBJECT, action: ACTION, estimate: { unit: 'TOKENS', amount: 5 } },
  },
  {
    method: 'POST',
    path: '/v1/events',
    body: {
      idempotency_key: KEY,
      subject: SUBJECT,
      action: ACTION,
      actual: { unit: 'TOKENS', amount: 2 },
      overage_policy: 'ALLOW_IF_AVAILABLE',
      metrics: METRICS,
      client_time_ms: 1_700_000_000_000,
      metadata: { a: 1 },
    },
  },
  { method: 'GET', path: '/v1/reservations/{id}' },
  {
    method: 'GET',
    path: '/v1/reservations?status=ACTIVE&app=chat&limit=5&sort_by=created_at_ms&sort_dir=asc',
  },
  { method: 'GET', path: '/v1/balances?tenant=acme&app=chat&include_children=true&limit=5' },
  { method: 'GET', path: `/v1/evidence/${'a'.repeat(64)}` },
  { method: 'GET', path: '/v1/.well-known/cycles-jwks.json' },
  { method: 'GET', path: '/health' },
  {
    method: 'POST',
    path: '/v1/admin/budgets',
    admin: true,
    body: {
      scope: 'tenant:acme/app:new',
      unit: 'TOKENS',
      allocated: 100,
      overdraft_limit: 0,
      caps: { max_tokens: 10 },
    },
  },
  { method: 'GET', path: '/v1/admin/budgets?scope=tenant:acme&unit=TOKENS', admin: true },
  {
    method: 'PATCH',
    path: '/v1/admin/budgets?scope=tenant:acme/app:tmp&unit=TOKENS',
    admin: true,
    body: { overdraft_limit: 0, commit_overage_policy: 'REJECT' },
  },
  { method: 'DELETE', path: '/v1/admin/budgets?scope=tenant:acme/app:tmp&unit=TOKENS', admin: true },
  {
    method: 'POST',
    path: '/v1/admin/budgets/fund?scope=tenant:acme/app:chat&unit=TOKENS',
    admin: true,
    body: { operation: 'CREDIT', amount: 1, reason: 'r', idempotency_key: KEY },
  },
  {
    method: 'POST',
    path: '/v1/admin/templates',
    admin: true,
    body: {
      pattern: 'tenant:acme/app:*',
      unit: 'TOKENS',
      allocated: 10,
      window: { period: 'day', time_zone: 'UTC' },
    },
  },
  {
    method: 'PUT',
    path: '/v1/admin/tenants/acme',
    admin: true,
    body: { default_reservation_ttl_ms: 60_000 },
  },
  { method: 'POST', path: '/v1/admin/api-keys', admin: true, body: { tenant: 'gamma' } },
  { method: 'POST', path: '/v1/admin/sweep', admin: true, body: {} },
];

const deep = (levels: number, open: string, close: string, leaf = '1') =>
  `${open.repeat(levels)}${leaf}${close.repeat(levels)}`;

/** Hostile JSON values, as raw text (some are not JSON at all: NaN, Infinity, undefined). */
export const hostileToken: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    'NaN',
    'Infinity',
    '-Infinity',
    'undefined',
    '1e400',
    '-1e400',
    '1e-400',
    '9223372036854775808',
    '-9223372036854775808',
    '9223372036854775807',
    '18446744073709551616',
    '9007199254740993',
    '-1',
    '-0',
    '0.5',
    '1.0',
    '0x10',
    '"1"',
    '""',
    'null',
    'true',
    '[]',
    '{}',
    '"\\ud800"',
    '"\\udfff"',
    '"x\\ud800y"',
    '"\\ud83d\\ude00"',
    '"\\u0000"',
    '"TOKENS\\u0000"',
    '{"__proto__":{"polluted":1}}',
    '{"constructor":{"prototype":{"polluted":1}}}',
  ),
  fc.integer({ min: 65, max: 30_000 }).map((levels) => deep(levels, '[', ']')),
  fc.integer({ min: 65, max: 10_000 }).map((levels) => deep(levels, '{"a":', '}')),
  fc.integer({ min: 1, max: 64 }).map((levels) => deep(levels, '[', ']', '"\\ud800"')),
  fc.integer({ min: 100, max: 70_000 }).map((length) => JSON.stringify('x'.repeat(length))),
  fc
    .string({ unit: fc.constantFrom('\ud800', '\udc00', 'a', '\u0000', '"', '\\', '/', 'é', '\u2028') })
    .map((text) => JSON.stringify(text)),
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
  fc.double().map((value) => (Number.isFinite(value) ? String(value) : 'NaN')),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
);

/** Every path to a value in `body` (objects only; arrays as a whole). */
function pathsOf(value: unknown, prefix: string[] = []): string[][] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [prefix];
  return [prefix, ...Object.entries(value).flatMap(([key, child]) => pathsOf(child, [...prefix, key]))];
}

const SENTINEL = '\u0002RAW\u0002';

/** `body` as JSON text with the value at `path` replaced by `raw` (or removed, or a new key added). */
function withRaw(
  body: Record<string, unknown>,
  path: string[],
  raw: string | undefined,
  newKey?: string,
): string {
  const copy = structuredClone(body);
  let parent: Record<string, unknown> = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string, unknown>;
  const last = path[path.length - 1];
  if (newKey !== undefined) {
    const target = last === undefined ? copy : (parent[last] as Record<string, unknown>);
    if (typeof target === 'object' && target !== null && !Array.isArray(target)) target[newKey] = SENTINEL;
    else parent[last as string] = { [newKey]: SENTINEL };
  } else if (last === undefined) {
    return raw ?? '';
  } else if (raw === undefined) {
    delete parent[last];
  } else {
    parent[last] = SENTINEL;
  }
  return JSON.stringify(copy).replace(JSON.stringify(SENTINEL), raw ?? 'null');
}

const headerOf = (route: Route, key: string = API_KEY): Record<string, string> =>
  route.admin ? { 'X-Admin-API-Key': ADMIN_KEY } : { 'X-Cycles-API-Key': key };

const JSON_TYPE = { 'Content-Type': 'application/json' };

/** A body field replaced, removed, or an unknown one added (at any depth). */
const fieldMutation = fc
  .constantFrom(...ROUTES.filter((route) => route.body !== undefined))
  .chain((route) =>
    fc.record({
      route: fc.constant(route),
      path: fc.constantFrom(...pathsOf(route.body)),
      kind: fc.constantFrom('replace', 'replace', 'replace', 'remove', 'add'),
      raw: hostileToken,
      newKey: fc.constantFrom('unknown', 'ttl', '__proto__', 'constructor', '', 'a'.repeat(300), '\ud800'),
    }),
  )
  .map(({ route, path, kind, raw, newKey }): Malformed => {
    const body = route.body as Record<string, unknown>;
    const text =
      kind === 'remove'
        ? withRaw(body, path, undefined)
        : kind === 'add'
          ? withRaw(body, path, raw, newKey)
          : withRaw(body, path, raw);
    return {
      method: route.method,
      path: route.path,
      headers: { ...headerOf(route), ...JSON_TYPE },
      body: Buffer.from(text),
    };
  });

/** The body's bytes or media type broken. */
const byteMutation = fc
  .record({
    route: fc.constantFrom(...ROUTES.filter((route) => route.body !== undefined)),
    kind: fc.constantFrom(
      'truncate',
      'utf16',
      'latin1',
      'text',
      'form',
      'none',
      'badUtf8',
      'whole',
      'proto',
      'dupKey',
      'gzip',
    ),
    at: fc.nat(),
    whole: fc.oneof(
      fc.constantFrom('null', '[]', '1', '"s"', '', ' ', '{', '}', '{}{}', '[1,]'),
      hostileToken,
    ),
  })
  .map(({ route, kind, at, whole }): Malformed => {
    const text = JSON.stringify(route.body);
    const cut = at % (text.length + 1);
    const headers = { ...headerOf(route), ...JSON_TYPE };
    const base = { method: route.method, path: route.path };
    switch (kind) {
      case 'truncate':
        return { ...base, headers, body: Buffer.from(text.slice(0, cut)) };
      case 'utf16':
        return {
          ...base,
          headers: { ...headers, 'Content-Type': 'application/json; charset=utf-16' },
          body: Buffer.from(text, 'utf16le'),
        };
      case 'latin1':
        return {
          ...base,
          headers: { ...headers, 'Content-Type': 'application/json; charset=iso-8859-1' },
          body: Buffer.from(text),
        };
      case 'text':
        return { ...base, headers: { ...headers, 'Content-Type': 'text/plain' }, body: Buffer.from(text) };
      case 'form':
        return {
          ...base,
          headers: { ...headers, 'Content-Type': 'application/x-www-form-urlencoded' },
          body: Buffer.from('a=1&b=2'),
        };
      case 'none': {
        const { 'Content-Type': _type, ...bare } = headers;
        return { ...base, headers: bare, body: Buffer.from(text) };
      }
      case 'badUtf8': {
        const bytes = Buffer.from(text);
        return {
          ...base,
          headers,
          body: Buffer.concat([
            bytes.subarray(0, cut),
            Buffer.from([0xff, 0xc0, 0xed, 0xa0, 0x80]),
            bytes.subarray(cut),
          ]),
        };
      }
      case 'gzip':
        return { ...base, headers: { ...headers, 'Content-Encoding': 'gzip' }, body: gzipSync(text) };
      case 'proto':
        return { ...base, headers, body: Buffer.from(text.replace('{', '{"__proto__":{"polluted":true},')) };
      case 'dupKey':
        return {
          ...base,
          headers,
          body: Buffer.from(text.replace(/}$/, `,${text.slice(1, cut) || '"x":1'}}`)),
        };
      default:
        return { ...base, headers, body: Buffer.from(whole) };
    }
  });

/** Hostile reservation ids in the path (raw, some not valid percent-encoding). */
const idMutation = fc
  .record({
    route: fc.constantFrom(...ROUTES.filter((route) => route.path.includes('{id}'))),
    id: fc.oneof(
      fc.constantFrom(
        '%ZZ',
        '%',
        '%00',
        '%ED%A0%80',
        '%F0%9F%98%80',
        '..',
        '%2F',
        'rsv_%C3%A9',
        ' ',
        '%20',
        'a'.repeat(129),
        'a'.repeat(600),
      ),
      fc.string({
        unit: fc.constantFrom('a', '_', '-', '.', '~', '%41', '%FF'),
        minLength: 1,
        maxLength: 200,
      }),
    ),
  })
  .map(
    ({ route, id }): Malformed => ({
      method: route.method,
      path: route.path.replace('{id}', id),
      headers: { ...headerOf(route), ...(route.body === undefined ? {} : JSON_TYPE) },
      ...(route.body === undefined ? {} : { body: Buffer.from(JSON.stringify(route.body)) }),
    }),
  );

const QUERY_NAMES = [
  'tenant',
  'workspace',
  'app',
  'workflow',
  'agent',
  'toolset',
  'status',
  'idempotency_key',
  'from',
  'to',
  'expires_from',
  'expires_to',
  'finalized_from',
  'finalized_to',
  'sort_by',
  'sort_dir',
  'include',
  'limit',
  'cursor',
  'include_children',
  'scope',
  'unit',
  'from_ms',
  'fromMs',
  'sortBy',
  'next_cursor',
  'x',
];
const QUERY_VALUES = fc.oneof(
  fc.constantFrom(
    'abc',
    '',
    '-1',
    '0',
    '201',
    '1e400',
    '9223372036854775808',
    'NaN',
    '%ZZ',
    '%ED%A0%80',
    'garbage',
    '2026-13-45T00:00:00Z',
    '2026-01-01T00:00:00Z',
    '0000-01-01T00:00:00Z',
    'ACTIVE',
    'true',
    'maybe',
    'a.b',
    'TOKENS',
    'tenant:acme',
    'x'.repeat(5000),
  ),
  fc.string({ unit: fc.constantFrom('a', '%', '&', '=', '+', '#', 'é', '0', '.') }),
);

/** List and admin query strings with hostile names, values and repeats. */
const queryMutation = fc
  .record({
    route: fc.constantFrom(...ROUTES.filter((route) => route.path.includes('?'))),
    params: fc.array(fc.tuple(fc.constantFrom(...QUERY_NAMES), QUERY_VALUES), { minLength: 1, maxLength: 4 }),
    keep: fc.boolean(),
  })
  .map(({ route, params, keep }): Malformed => {
    const [path, query] = route.path.split('?');
    const extra = params.map(([name, value]) => `${name}=${value}`).join('&');
    return {
      method: route.method,
      path: `${path}?${keep ? `${query}&` : ''}${extra}`,
      headers: { ...headerOf(route), ...(route.body === undefined ? {} : JSON_TYPE) },
      ...(route.body === undefined ? {} : { body: Buffer.from(JSON.stringify(route.body)) }),
    };
  });

/** Missing, wrong or hostile headers; wrong methods. */
const headerMutation = fc
  .record({
    route: fc.constantFrom(...ROUTES),
    kind: fc.constantFrom(
      'noKey',
      'otherTenant',
      'wrongKey',
      'keyMismatch',
      'traceparent',
      'method',
      'adminAsTenant',
    ),
    method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
    value: fc.string({ unit: fc.constantFrom('a', '0', '-', 'f', ' ', '\t'), maxLength: 80 }),
  })
  .map(({ route, kind, method, value }): Malformed => {
    const body = route.body === undefined ? undefined : Buffer.from(JSON.stringify(route.body));
    const type = route.body === undefined ? {} : JSON_TYPE;
    const base = { method: route.method, path: route.path, ...(body === undefined ? {} : { body }) };
    switch (kind) {
      case 'noKey':
        return { ...base, headers: { ...type } };
      case 'otherTenant':
        return { ...base, headers: { ...headerOf(route, OTHER_KEY), ...type } };
      case 'wrongKey':
        return {
          ...base,
          headers: {
            'X-Cycles-API-Key': `k${value}`.trim() || 'k',
            'X-Admin-API-Key': `a${value}`.trim() || 'a',
            ...type,
          },
        };
      case 'keyMismatch':
        return {
          ...base,
          headers: { ...headerOf(route), ...type, 'X-Idempotency-Key': `other${value}`.trim() },
        };
      case 'traceparent':
        return {
          ...base,
          headers: {
            ...headerOf(route),
            ...type,
            traceparent: `00-${value}`,
            'X-Cycles-Trace-Id': value.trim(),
          },
        };
      case 'adminAsTenant':
        return { ...base, headers: { 'X-Cycles-API-Key': ADMIN_KEY, 'X-Admin-API-Key': API_KEY, ...type } };
      default:
        return { ...base, method, headers: { ...headerOf(route), ...type } };
    }
  });

/** The whole corpus: every kind of damage, weighted towards body fields (where the ledgers are reached). */
export const malformedRequest: fc.Arbitrary<Malformed> = fc.oneof(
  { arbitrary: fieldMutation, weight: 6 },
  { arbitrary: byteMutation, weight: 2 },
  { arbitrary: idMutation, weight: 1 },
  { arbitrary: queryMutation, weight: 2 },
  { arbitrary: headerMutation, weight: 1 },
);

/** Replaces the key placeholder in a body's text with `key`. */
export function withKey(body: Buffer | undefined, key: string): Buffer | undefined {
  if (body === undefined) return undefined;
  const text = body.toString('latin1');
  return text.includes(KEY_TEXT)
    ? Buffer.from(text.split(KEY_TEXT).join(JSON.stringify(key)), 'latin1')
    : body;
}

/** The issue's reported failures, always sent first: deep metadata (past both ledgers' old 500 depths,
 * 2,546 on Redis and 4,375 in memory), lone surrogates, 2^63 and NaN, on each route that reaches a ledger. */
export function reportedCases(): Malformed[] {
  const cases: Malformed[] = [];
  for (const route of ROUTES.filter((candidate) => candidate.body !== undefined && !candidate.admin)) {
    const body = route.body as Record<string, unknown>;
    const headers = { ...headerOf(route), ...JSON_TYPE };
    const send = (text: string) =>
      cases.push({ method: route.method, path: route.path, headers, body: Buffer.from(text) });
    for (const levels of [2_546, 4_375, 20_000]) {
      send(withRaw(body, ['metadata'], `{"x":${deep(levels, '[', ']')}}`, undefined));
    }
    send(withRaw(body, ['idempotency_key'], '"\\ud800x"'));
    send(withRaw(body, ['idempotency_key'], '"\\udbffx"'));
    for (const amountField of ['estimate', 'actual']) {
      if (amountField in body) {
        send(withRaw(body, [amountField, 'amount'], '9223372036854775808'));
        send(withRaw(body, [amountField, 'amount'], 'NaN'));
        send(withRaw(body, [amountField, 'amount'], '1e400'));
      }
    }
  }
  return cases;
}
