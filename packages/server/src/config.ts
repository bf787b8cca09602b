import { InvalidConfigError } from '@cycles-guard/core';
import {
  type LedgerConfig,
  LedgerEventLog,
  parseLedgerConfig,
  readConfigFile,
} from '@cycles-guard/core/ledger-kit';
import type { LedgerEventsOptions } from '@cycles-guard/core/webhooks';
import { parseWebhookSecurity, type WebhookSecurityConfig } from './webhooks/webhook-security.ts';

/** Where the budgets live. */
export type LedgerStoreConfig =
  | { type: 'memory' }
  | {
      type: 'redis';
      /** `redis://` or `rediss://` URL. */
      url: string;
      /** Prefix of every key the ledger writes (several servers may share one Redis). */
      keyPrefix?: string;
    }
  | {
      type: 'redis';
      /** Redis Cluster seed nodes, `host:port` each (`@cycles-guard/redis` README, "Redis Cluster"). */
      cluster: string[];
      keyPrefix?: string;
    };

/** The server's configuration: a `cycles.json` file, the environment, or both (env wins). */
export interface ServerConfig extends LedgerConfig {
  /** @default '127.0.0.1' */
  host: string;
  /** 0 picks a free port. @default 7878 */
  port: number;
  ledger: LedgerStoreConfig;
  /** API key → tenant. Each runtime request's tenant is its key's. */
  apiKeys: Record<string, string>;
  /** Key of the admin endpoints (`X-Admin-API-Key`); without one they are disabled. */
  adminApiKey?: string;
  /** Largest accepted request body; larger ones get 400. @default 65536 */
  bodyLimitBytes: number;
  /** pino level of the request log. @default 'info' */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Most live template ledgers in all (the ledger's default, 50,000, when unset). */
  maxTemplateLedgers?: number;
  /**
   * Most live template ledgers per tenant key (default 1,000): a tenant's `max_template_ledgers` setting
   * overrides it.
   */
  maxTemplateLedgersPerTenant?: number;
  /** Accept `http://` webhook URLs (development only): shorthand for `webhookSecurity.allow_http`. */
  webhookAllowHttp?: boolean;
  /**
   * Where webhooks may point (GOV `WebhookSecurityConfig`; omitted fields take their defaults: the
   * spec's blocked private, loopback and link-local ranges, no URL patterns, https only).
   */
  webhookSecurity?: WebhookSecurityConfig;
  /**
   * On Redis: how long a server may go without writing its delivery mark before another server takes
   * it for dead and resends the deliveries it may not have stored. @default 15000
   */
  webhookLeaseMs?: number;
  /**
   * Unfinished deliveries one webhook subscription may have on a server (waiting for a connection, in
   * flight or waiting for a retry); past it a delivery is failed unsent, so a slow endpoint cannot grow
   * the server's memory without end. @default 1000
   */
  webhookMaxBacklog?: number;
  /**
   * The ledger's rate events (core `LedgerEventsOptions`): `denialRate` and `expiryRate` (`threshold`,
   * `windowMs`, `minSamples`), `burnRate` (`multiplier`, `windowMs`, `baselineWindows`, or `false`).
   * Defaults: GOV `WebhookThresholdConfig`'s (10 %, 5 %, 3x, over 300 s; 20 samples; 12 windows).
   */
  events?: RateEventOptions;
}

/** The rate options of the ledger's events the server config sets. */
export type RateEventOptions = Pick<LedgerEventsOptions, 'denialRate' | 'expiryRate' | 'burnRate'>;

/** What the server config passes to the ledger it opens: template bounds and rate events. */
export type TemplateBounds = Pick<
  ServerConfig,
  'maxTemplateLedgers' | 'maxTemplateLedgersPerTenant' | 'events'
>;

const LEDGER_KEYS = ['ledgers', 'templates', 'tenants'];
const SERVER_KEYS = [
  '$schema',
  'host',
  'port',
  'ledger',
  'apiKeys',
  'adminApiKey',
  'bodyLimitBytes',
  'logLevel',
  'maxTemplateLedgers',
  'maxTemplateLedgersPerTenant',
  'webhookAllowHttp',
  'webhookSecurity',
  'webhookLeaseMs',
  'webhookMaxBacklog',
  'events',
];

/** The fields of each rate option: its name in `events`, and in the environment (`CYCLES_<PREFIX>_<FIELD>`). */
const RATE_FIELDS = {
  denialRate: {
    env: 'CYCLES_DENIAL_RATE',
    fields: { threshold: 'THRESHOLD', windowMs: 'WINDOW_MS', minSamples: 'MIN_SAMPLES' },
  },
  expiryRate: {
    env: 'CYCLES_EXPIRY_RATE',
    fields: { threshold: 'THRESHOLD', windowMs: 'WINDOW_MS', minSamples: 'MIN_SAMPLES' },
  },
  burnRate: {
    env: 'CYCLES_BURN_RATE',
    fields: { multiplier: 'MULTIPLIER', windowMs: 'WINDOW_MS', baselineWindows: 'BASELINE_WINDOWS' },
  },
} as const;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function fail(field: string, problem: string, source?: string): never {
  throw new InvalidConfigError(`${source === undefined ? '' : `${source}: `}${field} ${problem}`, {
    details: { field },
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkRedisUrl(url: unknown, field: string, source?: string): string {
  if (typeof url !== 'string' || !/^rediss?:\/\/./.test(url)) {
    fail(field, 'must be a redis:// or rediss:// URL', source);
  }
  return url;
}

function checkClusterNodes(nodes: unknown, field: string, source?: string): string[] {
  const valid =
    Array.isArray(nodes) &&
    nodes.length > 0 &&
    nodes.every((node) => typeof node === 'string' && /^[^\s:,]+:\d{1,5}$/.test(node));
  if (!valid)
    fail(field, 'must list the cluster\'s seed nodes as "host:port", e.g. ["10.0.0.1:6379"]', source);
  return nodes as string[];
}

function checkLedger(value: unknown, source?: string): LedgerStoreConfig {
  if (value === undefined) return { type: 'memory' };
  if (!isObject(value))
    fail('ledger', 'must be { "type": "memory" } or { "type": "redis", "url": ... }', source);
  if (value.type === 'memory') return { type: 'memory' };
  if (value.type !== 'redis') fail('ledger.type', 'must be "memory" or "redis"', source);
  if (value.keyPrefix !== undefined && typeof value.keyPrefix !== 'string') {
    fail('ledger.keyPrefix', 'must be a string', source);
  }
  const prefix = value.keyPrefix === undefined ? {} : { keyPrefix: value.keyPrefix };
  if (value.cluster !== undefined) {
    if (value.url !== undefined) fail('ledger.url', 'and ledger.cluster exclude each other: set one', source);
    return { type: 'redis', cluster: checkClusterNodes(value.cluster, 'ledger.cluster', source), ...prefix };
  }
  return { type: 'redis', url: checkRedisUrl(value.url, 'ledger.url', source), ...prefix };
}

function checkApiKeys(value: unknown, source?: string): Record<string, string> {
  if (value === undefined) return {};
  if (!isObject(value))
    fail('apiKeys', 'must map each API key to its tenant, e.g. { "key-1": "acme" }', source);
  const keys: Record<string, string> = {};
  for (const [key, tenant] of Object.entries(value)) {
    if (key.length < 8)
      fail(`apiKeys["${key.slice(0, 2)}…"]`, 'is too short: use at least 8 characters', source);
    if (typeof tenant !== 'string' || !/^[a-zA-Z0-9_.-]{1,128}$/.test(tenant)) {
      fail(`apiKeys["${key.slice(0, 4)}…"]`, 'must name a tenant of ≤ 128 chars of [a-zA-Z0-9_.-]', source);
    }
    keys[key] = tenant;
  }
  return keys;
}

function integerIn(value: unknown, field: string, min: number, max: number, source?: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    fail(field, `must be an integer from ${min} to ${max}`, source);
  }
  return value;
}

/**
 * Checks rate options as the ledger will (its own validation, so the two never disagree), naming the
 * field under `prefix` (`events.` in a file, the variable in the environment).
 */
function checkRateEvents(value: unknown, source?: string): RateEventOptions {
  if (!isObject(value)) fail('events', 'must be an object: { "denialRate": { "threshold": 0.2 } }', source);
  for (const [name, option] of Object.entries(value)) {
    const known = RATE_FIELDS[name as keyof typeof RATE_FIELDS];
    if (known === undefined) {
      fail(
        `events.${name.slice(0, 64)}`,
        `is not a known key: use ${Object.keys(RATE_FIELDS).join(', ')}`,
        source,
      );
    }
    if (name === 'burnRate' && option === false) continue;
    if (!isObject(option)) {
      fail(
        `events.${name}`,
        `must be an object of ${Object.keys(known.fields).join(', ')}${name === 'burnRate' ? ', or false' : ''}`,
        source,
      );
    }
    for (const field of Object.keys(option)) {
      if (!(field in known.fields)) {
        fail(
          `events.${name}.${field.slice(0, 64)}`,
          `is not a known key: use ${Object.keys(known.fields).join(', ')}`,
          source,
        );
      }
    }
  }
  try {
    new LedgerEventLog(value as RateEventOptions);
  } catch (error) {
    const field = (error as { details?: { field?: string } }).details?.field ?? '';
    fail(`events.${field}`, (error as Error).message.replace(/^\S+ /, ''), source);
  }
  return value as RateEventOptions;
}

/** Validates a parsed config object; `source` (a file name) prefixes error messages. */
export function parseServerConfig(json: unknown, source?: string): ServerConfig {
  if (!isObject(json)) fail('$', 'must be a JSON object', source);
  for (const key of Object.keys(json)) {
    if (!SERVER_KEYS.includes(key) && !LEDGER_KEYS.includes(key)) {
      fail(key, `is not a known key: use ${[...SERVER_KEYS.slice(1), ...LEDGER_KEYS].join(', ')}`, source);
    }
  }
  const budgets = parseLedgerConfig(
    Object.fromEntries(Object.entries(json).filter(([key]) => LEDGER_KEYS.includes(key))),
    source,
  );
  if (json.host !== undefined && typeof json.host !== 'string') fail('host', 'must be a string', source);
  if (
    json.adminApiKey !== undefined &&
    (typeof json.adminApiKey !== 'string' || json.adminApiKey.length < 16)
  ) {
    fail('adminApiKey', 'must be a string of at least 16 characters', source);
  }
  if (json.logLevel !== undefined && !LOG_LEVELS.includes(json.logLevel as string)) {
    fail('logLevel', `must be one of ${LOG_LEVELS.join(', ')}`, source);
  }
  const config: ServerConfig = {
    ...budgets,
    host: (json.host as string | undefined) ?? '127.0.0.1',
    port: json.port === undefined ? 7878 : integerIn(json.port, 'port', 0, 65_535, source),
    ledger: checkLedger(json.ledger, source),
    apiKeys: checkApiKeys(json.apiKeys, source),
    bodyLimitBytes:
      json.bodyLimitBytes === undefined
        ? 65_536
        : integerIn(json.bodyLimitBytes, 'bodyLimitBytes', 1024, 10_485_760, source),
    logLevel: (json.logLevel as ServerConfig['logLevel'] | undefined) ?? 'info',
  };
  if (json.adminApiKey !== undefined) config.adminApiKey = json.adminApiKey as string;
  if (json.webhookAllowHttp !== undefined) {
    if (typeof json.webhookAllowHttp !== 'boolean') fail('webhookAllowHttp', 'must be true or false', source);
    config.webhookAllowHttp = json.webhookAllowHttp;
  }
  if (json.webhookSecurity !== undefined) {
    if (json.webhookAllowHttp !== undefined)
      fail(
        'webhookAllowHttp',
        'and webhookSecurity exclude each other: set webhookSecurity.allow_http',
        source,
      );
    try {
      config.webhookSecurity = parseWebhookSecurity(json.webhookSecurity, 'webhookSecurity.');
    } catch (error) {
      const field = (error as { details?: { field?: string } }).details?.field ?? 'webhookSecurity';
      fail(field, (error as Error).message.slice(field.length + 1), source);
    }
  }
  for (const name of ['maxTemplateLedgers', 'maxTemplateLedgersPerTenant'] as const) {
    if (json[name] !== undefined) config[name] = integerIn(json[name], name, 0, 100_000_000, source);
  }
  if (json.webhookLeaseMs !== undefined)
    config.webhookLeaseMs = integerIn(json.webhookLeaseMs, 'webhookLeaseMs', 500, 3_600_000, source);
  if (json.webhookMaxBacklog !== undefined)
    config.webhookMaxBacklog = integerIn(json.webhookMaxBacklog, 'webhookMaxBacklog', 1, 1_000_000, source);
  if (json.events !== undefined) config.events = checkRateEvents(json.events, source);
  return config;
}

/** Reads and validates a config file (read and parsed as core reads a ledger config file). */
export function loadServerConfig(path: string): ServerConfig {
  return parseServerConfig(readConfigFile(path), path);
}

/**
 * Applies the environment over a config: `CYCLES_SERVER_HOST`, `CYCLES_SERVER_PORT`,
 * `CYCLES_REDIS_URL` (selects the Redis ledger), `CYCLES_REDIS_CLUSTER_NODES` (`host:port,host:port`: the
 * Redis ledger on Redis Cluster), `CYCLES_REDIS_KEY_PREFIX`, `CYCLES_ADMIN_API_KEY`,
 * `CYCLES_SERVER_API_KEYS` (`key=tenant,key2=tenant2`, added to the file's), `CYCLES_LOG_LEVEL`,
 * `CYCLES_MAX_TEMPLATE_LEDGERS`, `CYCLES_MAX_TEMPLATE_LEDGERS_PER_TENANT`, and the rate events' options
 * (`applyRateEnv`).
 */
export function applyServerEnv(
  config: ServerConfig,
  env: Record<string, string | undefined> = process.env,
): ServerConfig {
  const text = (name: string) => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const next: ServerConfig = { ...config, apiKeys: { ...config.apiKeys } };
  const host = text('CYCLES_SERVER_HOST');
  if (host !== undefined) next.host = host;
  const port = text('CYCLES_SERVER_PORT');
  if (port !== undefined) {
    if (!/^\d+$/.test(port)) fail('CYCLES_SERVER_PORT', `must be a port number, got "${port}"`);
    next.port = integerIn(Number(port), 'CYCLES_SERVER_PORT', 0, 65_535);
  }
  const redisUrl = text('CYCLES_REDIS_URL');
  const clusterNodes = text('CYCLES_REDIS_CLUSTER_NODES');
  if (redisUrl !== undefined && clusterNodes !== undefined) {
    fail('CYCLES_REDIS_CLUSTER_NODES', 'and CYCLES_REDIS_URL exclude each other: set one');
  }
  const keptPrefix = next.ledger.type === 'redis' && next.ledger.keyPrefix !== undefined;
  const prefix = keptPrefix ? { keyPrefix: (next.ledger as { keyPrefix: string }).keyPrefix } : {};
  if (redisUrl !== undefined) {
    next.ledger = { type: 'redis', url: checkRedisUrl(redisUrl, 'CYCLES_REDIS_URL'), ...prefix };
  }
  if (clusterNodes !== undefined) {
    const nodes = clusterNodes.split(',').map((node) => node.trim());
    next.ledger = {
      type: 'redis',
      cluster: checkClusterNodes(nodes, 'CYCLES_REDIS_CLUSTER_NODES'),
      ...prefix,
    };
  }
  const keyPrefix = text('CYCLES_REDIS_KEY_PREFIX');
  if (keyPrefix !== undefined) {
    if (next.ledger.type !== 'redis')
      fail(
        'CYCLES_REDIS_KEY_PREFIX',
        'applies to the Redis ledger only: set CYCLES_REDIS_URL or CYCLES_REDIS_CLUSTER_NODES too',
      );
    next.ledger = { ...next.ledger, keyPrefix };
  }
  const adminKey = text('CYCLES_ADMIN_API_KEY');
  if (adminKey !== undefined) {
    if (adminKey.length < 16) fail('CYCLES_ADMIN_API_KEY', 'must be at least 16 characters');
    next.adminApiKey = adminKey;
  }
  const keys = text('CYCLES_SERVER_API_KEYS');
  if (keys !== undefined) {
    const pairs: Record<string, string> = {};
    for (const pair of keys.split(',')) {
      const [key, tenant, ...rest] = pair.trim().split('=');
      if (key === undefined || tenant === undefined || rest.length > 0) {
        fail('CYCLES_SERVER_API_KEYS', 'must be key=tenant pairs separated by commas');
      }
      pairs[key] = tenant;
    }
    Object.assign(next.apiKeys, checkApiKeys(pairs, 'CYCLES_SERVER_API_KEYS'));
  }
  const level = text('CYCLES_LOG_LEVEL');
  if (level !== undefined) {
    if (!LOG_LEVELS.includes(level)) fail('CYCLES_LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);
    next.logLevel = level as ServerConfig['logLevel'];
  }
  const bounds = {
    maxTemplateLedgers: 'CYCLES_MAX_TEMPLATE_LEDGERS',
    maxTemplateLedgersPerTenant: 'CYCLES_MAX_TEMPLATE_LEDGERS_PER_TENANT',
  } as const;
  for (const [name, variable] of Object.entries(bounds) as Array<[keyof typeof bounds, string]>) {
    const value = text(variable);
    if (value === undefined) continue;
    if (!/^\d+$/.test(value)) fail(variable, `must be a whole number, got "${value}"`);
    next[name] = integerIn(Number(value), variable, 0, 100_000_000);
  }
  applyRateEnv(next, text);
  return next;
}

/**
 * `CYCLES_DENIAL_RATE_THRESHOLD`, `_WINDOW_MS`, `_MIN_SAMPLES` (and `CYCLES_EXPIRY_RATE_…`),
 * `CYCLES_BURN_RATE_MULTIPLIER`, `_WINDOW_MS`, `_BASELINE_WINDOWS`, and `CYCLES_BURN_RATE=off`: set over
 * the file's `events`, checked as the ledger checks them, an error naming the variable.
 */
function applyRateEnv(config: ServerConfig, text: (name: string) => string | undefined): void {
  const events: Record<string, unknown> = { ...config.events };
  const variables = new Map<string, string>();
  let set = false;
  if (text('CYCLES_BURN_RATE') !== undefined) {
    if (text('CYCLES_BURN_RATE') !== 'off')
      fail('CYCLES_BURN_RATE', 'may only be "off" (the anomaly events)');
    events.burnRate = false;
    variables.set('events.burnRate', 'CYCLES_BURN_RATE');
    set = true;
  }
  for (const [name, { env, fields }] of Object.entries(RATE_FIELDS)) {
    for (const [field, suffix] of Object.entries(fields)) {
      const variable = `${env}_${suffix}`;
      const value = text(variable);
      if (value === undefined) continue;
      const number = Number(value);
      if (!Number.isFinite(number)) fail(variable, `must be a number, got "${value.slice(0, 32)}"`);
      const current = events[name];
      if (current === false) fail(variable, 'and CYCLES_BURN_RATE=off exclude each other: set one');
      events[name] = { ...(current as object | undefined), [field]: number };
      variables.set(`events.${name}.${field}`, variable);
      set = true;
    }
  }
  if (!set) return;
  try {
    config.events = checkRateEvents(events);
  } catch (error) {
    const field = (error as { details?: { field?: string } }).details?.field ?? '';
    const variable = variables.get(field) ?? variables.get(field.split('.').slice(0, 2).join('.'));
    if (variable === undefined) throw error;
    fail(variable, (error as Error).message.slice(field.length + 1));
  }
}
