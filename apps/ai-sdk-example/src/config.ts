import { InvalidConfigError } from '@cycles-guard/core';

/** Settings of the example, read from environment variables (see the README). */
export interface ExampleConfig {
  port: number;
  host: string;
  /** Every tenant's daily budget, in USD microcents (1 USD = 100,000,000). */
  dailyBudgetMicrocents: number;
  /** Cap of one chat request's agent loop (all its steps), in USD microcents. */
  runBudgetMicrocents: number;
  /** Real Bedrock in this region; undefined runs the in-process emulator. */
  awsRegion: string | undefined;
  modelId: string;
  /** Emulator only: how many steps the emulator answers with a getWeather call. */
  emulatorToolCalls: number;
  /** API key → tenant: the tenant of a request is its key's, never a value the client picks. */
  apiKeys: ReadonlyMap<string, string>;
}

const DEFAULT_API_KEYS = 'demo-key-acme:acme,demo-key-globex:globex';

const MICROCENTS_PER_USD = 100_000_000;
/** Claude 3.5 Haiku; on real Bedrock through its US cross-region inference profile. */
const EMULATOR_MODEL = 'anthropic.claude-3-5-haiku-20241022-v1:0';
const AWS_MODEL = `us.${EMULATOR_MODEL}`;

function invalid(variable: string, problem: string): never {
  throw new InvalidConfigError(`${variable} ${problem}`, { details: { field: variable } });
}

function dollars(env: Record<string, string | undefined>, variable: string, fallback: string): number {
  const raw = env[variable]?.trim() || fallback;
  if (!/^\d+(\.\d+)?$/.test(raw) || !(Number(raw) > 0)) {
    invalid(variable, `must be a positive amount of dollars such as ${fallback}, got "${raw}"`);
  }
  return Math.round(Number(raw) * MICROCENTS_PER_USD);
}

function count(env: Record<string, string | undefined>, variable: string, fallback: number): number {
  const raw = env[variable]?.trim() || String(fallback);
  if (!/^\d+$/.test(raw)) invalid(variable, `must be a whole number such as ${fallback}, got "${raw}"`);
  return Number(raw);
}

function apiKeys(env: Record<string, string | undefined>): Map<string, string> {
  const raw = env.API_KEYS?.trim() || DEFAULT_API_KEYS;
  const keys = new Map<string, string>();
  for (const entry of raw.split(',')) {
    const [key, tenant, extra] = entry.trim().split(':');
    if (!key || !tenant || extra !== undefined || !/^[a-zA-Z0-9_.-]+$/.test(tenant)) {
      invalid('API_KEYS', `must be comma-separated key:tenant pairs, got "${entry}"`);
    }
    keys.set(key, tenant);
  }
  return keys;
}

/**
 * Reads `PORT`, `HOST`, `DAILY_BUDGET_USD`, `RUN_BUDGET_USD`, `API_KEYS`, `BEDROCK_MODEL_ID`,
 * `EMULATOR_TOOL_CALLS` and the AWS selection:
 * `AWS_REGION` (or `AWS_DEFAULT_REGION`) means real Bedrock with credentials from the `AWS_*`
 * variables, unless `BEDROCK_EMULATOR=1` forces the in-process emulator. Invalid values throw naming
 * the variable.
 */
export function readConfig(env: Record<string, string | undefined>, defaultPort = 3002): ExampleConfig {
  const forceEmulator = env.BEDROCK_EMULATOR === '1' || env.BEDROCK_EMULATOR === 'true';
  const awsRegion = forceEmulator
    ? undefined
    : env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim() || undefined;
  const rawPort = env.PORT?.trim() || String(defaultPort);
  if (!/^\d+$/.test(rawPort) || Number(rawPort) > 65_535) {
    invalid('PORT', `must be a port number 0–65535, got "${rawPort}"`);
  }
  return {
    port: Number(rawPort),
    host: env.HOST?.trim() || '127.0.0.1',
    dailyBudgetMicrocents: dollars(env, 'DAILY_BUDGET_USD', '0.05'),
    runBudgetMicrocents: dollars(env, 'RUN_BUDGET_USD', '0.01'),
    awsRegion,
    modelId: env.BEDROCK_MODEL_ID?.trim() || (awsRegion === undefined ? EMULATOR_MODEL : AWS_MODEL),
    emulatorToolCalls: count(env, 'EMULATOR_TOOL_CALLS', 1),
    apiKeys: apiKeys(env),
  };
}
