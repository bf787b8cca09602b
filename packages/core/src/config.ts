import type { BudgetAuthority } from './authority.ts';
import type { Clock } from './clock.ts';
import type { CyclesEventHandler } from './events.ts';
import type { LedgerDefinition, LedgerTemplate, TenantSettings } from './ledger/types.ts';
import type { OutboxOptions } from './lifecycle/outbox/create-outbox.ts';
import type { RetryOptions } from './lifecycle/retry.ts';
import type { PriceOverride, UnknownModelPolicy } from './llm/catalog.ts';
import { OVERAGE_POLICIES, type OveragePolicy } from './protocol/enums.ts';
import { InvalidConfigError } from './protocol/errors.ts';
import type { Subject } from './protocol/types.ts';
import { createHttpAuthority } from './remote/http-authority.ts';
import { ledgerFromUrl } from './remote/ledger-schemes.ts';
import type { TelemetryOptions } from './telemetry/options.ts';

export type { RetryOptions } from './lifecycle/retry.ts';

/** Units a Cycles instance can budget LLM calls in. */
export type CyclesUnit = 'USD_MICROCENTS' | 'TOKENS';

/** Options of `createCycles`. Every field is optional. */
export interface CyclesOptions {
  /**
   * Who answers reserve/commit/release.
   * @default an in-process memory ledger built from `ledgers`, `templates` and `configFile`
   */
  authority?: BudgetAuthority;
  /** Budgets of the default memory ledger. Ignored when `authority` is given. */
  ledgers?: LedgerDefinition[];
  /** Ledger templates of the default memory ledger. Ignored when `authority` is given. */
  templates?: LedgerTemplate[];
  /** Tenant settings of the default memory ledger (TTL defaults, extensions, overage policy). */
  tenants?: Record<string, TenantSettings>;
  /** A JSON budgets file for the default memory ledger (see `loadLedgerConfig`). */
  configFile?: string;
  /** Subject fields merged under every call's subject (the call and the budget context win). */
  subject?: Subject;
  /**
   * Model prices in USD_MICROCENTS per million tokens, keyed by model id; they extend (and override)
   * the built-in Bedrock prices (see `createPriceCatalog`).
   */
  prices?: Record<string, PriceOverride>;
  /**
   * A prices file (JSON, `prices.schema.json`; build one with `cycles-guard-prices` from
   * `@cycles-guard/bedrock`) laid over the built-in prices; `cycles.catalog.reload()` re-reads it.
   * @default the `CYCLES_PRICES_FILE` variable in `cyclesFromEnv`, else none
   */
  pricesFile?: string;
  /** Application inference profile ARNs → the model each runs (they cannot be priced otherwise). */
  inferenceProfiles?: Record<string, string>;
  /**
   * Models with no price are refused unless this prices them, like a named model or at stated
   * maximum rates (never $0). @default 'refuse'
   */
  unknownModels?: UnknownModelPolicy;
  /**
   * Unit LLM calls are budgeted in.
   * @default 'USD_MICROCENTS'
   */
  unit?: CyclesUnit;
  /**
   * What to do when the authority cannot be reached: `closed` refuses the call
   * (AuthorityUnavailableError), `open` runs it unguarded and emits a `fail-open` event.
   * @default 'closed'
   */
  failMode?: 'closed' | 'open';
  /**
   * `observe` rolls a budget out in shadow: every call is evaluated as usual but nothing is held, no
   * output is capped and no call is refused; an `observed` event tells what enforcement would have
   * decided, and actual costs are still recorded. Switch to `enforce` once the events look right.
   * @default 'enforce'
   */
  mode?: 'enforce' | 'observe';
  /**
   * Reservation TTL, 1,000–86,400,000 ms.
   * @default the authority's default (60,000 for the memory ledger)
   */
  ttlMs?: number;
  /**
   * Grace after expiry during which commit/release are still accepted, 0–60,000 ms.
   * @default the authority's default (5,000)
   */
  gracePeriodMs?: number;
  /**
   * What a commit above the hold does.
   * @default the authority's default (ALLOW_IF_AVAILABLE)
   */
  overagePolicy?: OveragePolicy;
  /**
   * An LLM call whose budget allows fewer output tokens than this is refused before it is sent.
   * @default 64
   */
  minOutputTokens?: number;
  /** Settlement retry policy. */
  retry?: RetryOptions;
  /**
   * Extend live holds before they expire (PROTOCOL §2.7). Timers are unref'd.
   * @default true
   */
  heartbeat?: boolean;
  /**
   * The durable settlement outbox: settlements the authority cannot confirm after their retries are
   * journaled and replayed (same idempotency key) until confirmed or definitively refused.
   * @default on for Redis and HTTP authorities (file journal; Redis keeps it in Redis), off for the embedded ledger
   */
  outbox?: OutboxOptions;
  /** Receives every decision, commit, release, denial, cutoff, cap, fail-open and heartbeat stop. */
  onEvent?: CyclesEventHandler;
  /**
   * OpenTelemetry spans and metrics for every guarded call (`@opentelemetry/api`, an optional peer
   * dependency, is loaded only when this is on). See the README's Telemetry section.
   * @default off
   */
  telemetry?: boolean | TelemetryOptions;
  /**
   * Time source for the default memory ledger and the heartbeat.
   * @default systemClock
   */
  clock?: Clock;
}

/** The validated settings a Cycles instance runs with. */
export interface ResolvedCyclesConfig {
  subject: Subject;
  unit: CyclesUnit;
  failMode: 'closed' | 'open';
  mode: 'enforce' | 'observe';
  ttlMs: number | undefined;
  gracePeriodMs: number | undefined;
  overagePolicy: OveragePolicy | undefined;
  minOutputTokens: number;
  retry: Required<RetryOptions>;
  heartbeat: boolean;
  outbox: OutboxOptions;
}

/** Default minimum output tokens below which an LLM call is refused. */
export const DEFAULT_MIN_OUTPUT_TOKENS = 64;

function fail(field: string, problem: string): never {
  throw new InvalidConfigError(`${field} ${problem}`, { details: { field } });
}

function integerIn(field: string, value: number | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    fail(field, `must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/** Validates options; `names` maps option names to what to call them in errors (e.g. env variables). */
export function resolveConfig(
  options: CyclesOptions,
  names: Partial<
    Record<
      | keyof CyclesOptions
      | 'retry.attempts'
      | 'retry.baseDelayMs'
      | 'outbox.enabled'
      | 'outbox.directory'
      | 'outbox.intents',
      string
    >
  > = {},
): ResolvedCyclesConfig {
  const name = (key: keyof typeof names) => names[key] ?? key;
  const unit = options.unit ?? 'USD_MICROCENTS';
  if (unit !== 'USD_MICROCENTS' && unit !== 'TOKENS') {
    fail(name('unit'), `must be USD_MICROCENTS or TOKENS, got ${String(unit)}`);
  }
  const failMode = options.failMode ?? 'closed';
  if (failMode !== 'closed' && failMode !== 'open') {
    fail(name('failMode'), `must be closed or open, got ${String(failMode)}`);
  }
  const mode = options.mode ?? 'enforce';
  if (mode !== 'enforce' && mode !== 'observe')
    fail(name('mode'), `must be enforce or observe, got ${String(mode)}`);
  if (options.overagePolicy !== undefined && !OVERAGE_POLICIES.includes(options.overagePolicy)) {
    fail(name('overagePolicy'), `must be one of ${OVERAGE_POLICIES.join(', ')}`);
  }
  return {
    subject: { ...options.subject },
    unit,
    failMode,
    mode,
    ttlMs: integerIn(name('ttlMs'), options.ttlMs, 1_000, 86_400_000),
    gracePeriodMs: integerIn(name('gracePeriodMs'), options.gracePeriodMs, 0, 60_000),
    overagePolicy: options.overagePolicy,
    minOutputTokens:
      integerIn(name('minOutputTokens'), options.minOutputTokens, 1, 10_000_000) ?? DEFAULT_MIN_OUTPUT_TOKENS,
    retry: {
      attempts: integerIn(name('retry.attempts'), options.retry?.attempts, 1, 20) ?? 4,
      baseDelayMs: integerIn(name('retry.baseDelayMs'), options.retry?.baseDelayMs, 0, 60_000) ?? 100,
    },
    heartbeat: options.heartbeat ?? true,
    outbox: resolveOutbox(options.outbox),
  };
}

function resolveOutbox(outbox: OutboxOptions | undefined): OutboxOptions {
  if (outbox === undefined) return {};
  if (typeof outbox !== 'object' || outbox === null) fail('outbox', 'must be an object');
  for (const key of ['enabled', 'intents'] as const) {
    if (outbox[key] !== undefined && typeof outbox[key] !== 'boolean')
      fail(`outbox.${key}`, 'must be true or false');
  }
  for (const key of ['directory', 'identity'] as const) {
    const value = outbox[key];
    if (value !== undefined && (typeof value !== 'string' || value.trim() === ''))
      fail(`outbox.${key}`, 'must be a non-empty string');
  }
  integerIn('outbox.replayIntervalMs', outbox.replayIntervalMs, 10, 600_000);
  integerIn('outbox.reservationRetentionMs', outbox.reservationRetentionMs, 1_000, 2_592_000_000);
  return { ...outbox };
}

/** Which `CYCLES_*` variable sets which option (used to name the variable in errors). */
const ENV_NAMES = {
  unit: 'CYCLES_UNIT',
  failMode: 'CYCLES_FAIL_MODE',
  mode: 'CYCLES_MODE',
  ttlMs: 'CYCLES_TTL_MS',
  gracePeriodMs: 'CYCLES_GRACE_PERIOD_MS',
  overagePolicy: 'CYCLES_OVERAGE_POLICY',
  minOutputTokens: 'CYCLES_MIN_OUTPUT_TOKENS',
  'retry.attempts': 'CYCLES_RETRY_ATTEMPTS',
  'retry.baseDelayMs': 'CYCLES_RETRY_BASE_DELAY_MS',
  heartbeat: 'CYCLES_HEARTBEAT',
  'outbox.enabled': 'CYCLES_OUTBOX',
  'outbox.directory': 'CYCLES_OUTBOX_DIR',
  'outbox.intents': 'CYCLES_OUTBOX_INTENTS',
} as const;

function envInteger(env: Record<string, string | undefined>, variable: string): number | undefined {
  const raw = env[variable]?.trim();
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) fail(variable, `must be a non-negative integer, got "${raw}"`);
  return Number(raw);
}

function envBoolean(env: Record<string, string | undefined>, variable: string): boolean | undefined {
  const raw = env[variable]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return undefined;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  fail(variable, `must be true or false, got "${raw}"`);
}

/**
 * Reads `CYCLES_*` variables into options, validating each and naming the variable on error:
 * `CYCLES_BUDGETS_FILE`, `CYCLES_PRICES_FILE`, `CYCLES_TENANT`, `CYCLES_WORKSPACE`, `CYCLES_APP`, `CYCLES_UNIT`,
 * `CYCLES_FAIL_MODE`, `CYCLES_TTL_MS`, `CYCLES_GRACE_PERIOD_MS`, `CYCLES_OVERAGE_POLICY`,
 * `CYCLES_MIN_OUTPUT_TOKENS`, `CYCLES_RETRY_ATTEMPTS`, `CYCLES_RETRY_BASE_DELAY_MS`, `CYCLES_HEARTBEAT`,
 * `CYCLES_OUTBOX` (false turns the settlement outbox off), `CYCLES_OUTBOX_DIR`, `CYCLES_OUTBOX_INTENTS`.
 *
 * The authority: `CYCLES_BASE_URL` + `CYCLES_API_KEY` (+ `CYCLES_TIMEOUT_MS`) select a remote Cycles
 * server (`createHttpAuthority`); `CYCLES_REDIS_URL` (+ `CYCLES_REDIS_KEY_PREFIX`) selects the Redis
 * ledger of `@cycles-guard/redis`, loaded on first use; neither means the embedded memory ledger (`CYCLES_BUDGETS_FILE`).
 */
export function optionsFromEnv(env: Record<string, string | undefined> = process.env): CyclesOptions {
  const options: CyclesOptions = {};
  const text = (variable: string) => {
    const value = env[variable]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const file = text('CYCLES_BUDGETS_FILE');
  if (file !== undefined) options.configFile = file;
  const pricesFile = text('CYCLES_PRICES_FILE');
  if (pricesFile !== undefined) options.pricesFile = pricesFile;
  const authority = authorityFromEnv(env, text);
  if (authority !== undefined) {
    if (file !== undefined) {
      fail(
        'CYCLES_BUDGETS_FILE',
        'applies to the embedded ledger only: provision budgets on the remote or Redis authority, or unset it',
      );
    }
    options.authority = authority;
  }
  const subject: Subject = {};
  for (const [variable, level] of [
    ['CYCLES_TENANT', 'tenant'],
    ['CYCLES_WORKSPACE', 'workspace'],
    ['CYCLES_APP', 'app'],
  ] as const) {
    const value = text(variable);
    if (value === undefined) continue;
    if (!/^[a-zA-Z0-9_.-]{1,128}$/.test(value))
      fail(variable, `must match [a-zA-Z0-9_.-]{1,128}, got "${value}"`);
    subject[level] = value;
  }
  if (Object.keys(subject).length > 0) options.subject = subject;
  const unit = text(ENV_NAMES.unit);
  if (unit !== undefined) options.unit = unit as CyclesUnit;
  const failMode = text(ENV_NAMES.failMode);
  if (failMode !== undefined) options.failMode = failMode as 'closed' | 'open';
  const mode = text(ENV_NAMES.mode);
  if (mode !== undefined) options.mode = mode as 'enforce' | 'observe';
  const policy = text(ENV_NAMES.overagePolicy);
  if (policy !== undefined) options.overagePolicy = policy as OveragePolicy;
  const ttlMs = envInteger(env, ENV_NAMES.ttlMs);
  if (ttlMs !== undefined) options.ttlMs = ttlMs;
  const grace = envInteger(env, ENV_NAMES.gracePeriodMs);
  if (grace !== undefined) options.gracePeriodMs = grace;
  const minOutput = envInteger(env, ENV_NAMES.minOutputTokens);
  if (minOutput !== undefined) options.minOutputTokens = minOutput;
  const attempts = envInteger(env, ENV_NAMES['retry.attempts']);
  const baseDelayMs = envInteger(env, ENV_NAMES['retry.baseDelayMs']);
  if (attempts !== undefined || baseDelayMs !== undefined) {
    options.retry = {
      ...(attempts === undefined ? {} : { attempts }),
      ...(baseDelayMs === undefined ? {} : { baseDelayMs }),
    };
  }
  const heartbeat = envBoolean(env, ENV_NAMES.heartbeat);
  if (heartbeat !== undefined) options.heartbeat = heartbeat;
  const outbox: OutboxOptions = {};
  const outboxOn = envBoolean(env, ENV_NAMES['outbox.enabled']);
  if (outboxOn !== undefined) outbox.enabled = outboxOn;
  const outboxDirectory = text(ENV_NAMES['outbox.directory']);
  if (outboxDirectory !== undefined) outbox.directory = outboxDirectory;
  const intents = envBoolean(env, ENV_NAMES['outbox.intents']);
  if (intents !== undefined) outbox.intents = intents;
  if (Object.keys(outbox).length > 0) options.outbox = outbox;
  // Validate now so a bad value fails at start-up naming its variable, not at the first call.
  resolveConfig(options, ENV_NAMES);
  return options;
}

/** The remote or Redis authority the environment selects, if any (see `optionsFromEnv`). */
function authorityFromEnv(
  env: Record<string, string | undefined>,
  text: (variable: string) => string | undefined,
): BudgetAuthority | undefined {
  const baseUrl = text('CYCLES_BASE_URL');
  const apiKey = text('CYCLES_API_KEY');
  const redisUrl = text('CYCLES_REDIS_URL');
  if (redisUrl !== undefined && (baseUrl !== undefined || apiKey !== undefined)) {
    fail('CYCLES_REDIS_URL', 'and CYCLES_BASE_URL select different authorities: set only one of them');
  }
  if (redisUrl !== undefined) {
    if (!/^rediss?:\/\//.test(redisUrl))
      fail('CYCLES_REDIS_URL', `must be a redis:// or rediss:// URL, got "${redisUrl}"`);
    // Every instance sharing a budget must use the same prefix (the server's `ledger.keyPrefix`).
    return ledgerFromUrl(redisUrl, {
      keyPrefix: text('CYCLES_REDIS_KEY_PREFIX'),
      variable: 'CYCLES_REDIS_URL',
      // Registers redis:// and rediss:// when imported; named here only to tell the user what to import.
      provider: '@cycles-guard/redis',
    });
  }
  if (baseUrl === undefined && apiKey === undefined) return undefined;
  if (baseUrl === undefined)
    fail('CYCLES_BASE_URL', 'is required with CYCLES_API_KEY: set the Cycles server URL');
  if (apiKey === undefined)
    fail('CYCLES_API_KEY', 'is required with CYCLES_BASE_URL: set the key your Cycles server issued');
  const timeoutMs = envInteger(env, 'CYCLES_TIMEOUT_MS');
  try {
    return createHttpAuthority({ baseUrl, apiKey, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
  } catch (error) {
    // Name the variable rather than the option.
    const field = (error as { details?: { field?: string } }).details?.field;
    const variable =
      field === 'baseUrl'
        ? 'CYCLES_BASE_URL'
        : field === 'timeoutMs'
          ? 'CYCLES_TIMEOUT_MS'
          : 'CYCLES_API_KEY';
    fail(variable, (error as Error).message.replace(/^\w+ /, ''));
  }
}
