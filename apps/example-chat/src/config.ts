import { InvalidConfigError } from '@cycles-guard/core';

/** Settings of the example, read from environment variables (see the README). */
export interface ExampleConfig {
  port: number;
  host: string;
  /** Every tenant's daily budget, in USD microcents (1 USD = 100,000,000). */
  dailyBudgetMicrocents: number;
  /** API key → tenant. */
  apiKeys: ReadonlyMap<string, string>;
  /** Real Bedrock in this region; undefined runs the in-process emulator. */
  awsRegion: string | undefined;
  modelId: string;
  /** Where budget alerts (80 %, 95 %, exhausted) are posted, signed; none when unset. */
  alertWebhook?: { url: string; secret: string; allowHttp: boolean };
}

const MICROCENTS_PER_USD = 100_000_000;
const DEFAULT_API_KEYS = 'demo-key-acme:acme,demo-key-globex:globex';
/** Claude 3.5 Haiku; on real Bedrock through its US cross-region inference profile (on-demand use needs one). */
const EMULATOR_MODEL = 'anthropic.claude-3-5-haiku-20241022-v1:0';
const AWS_MODEL = `us.${EMULATOR_MODEL}`;

function invalid(variable: string, problem: string): never {
  throw new InvalidConfigError(`${variable} ${problem}`, { details: { field: variable } });
}

function port(env: Record<string, string | undefined>, fallback: number): number {
  const raw = env.PORT?.trim() || String(fallback);
  if (!/^\d+$/.test(raw) || Number(raw) > 65_535)
    invalid('PORT', `must be a port number 0–65535, got "${raw}"`);
  return Number(raw);
}

function dailyBudget(env: Record<string, string | undefined>): number {
  const raw = env.DAILY_BUDGET_USD?.trim() || '0.05';
  const dollars = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || !(dollars > 0)) {
    invalid('DAILY_BUDGET_USD', `must be a positive amount of dollars such as 0.05, got "${raw}"`);
  }
  return Math.round(dollars * MICROCENTS_PER_USD);
}

function apiKeys(env: Record<string, string | undefined>): Map<string, string> {
  const raw = env.API_KEYS?.trim() || DEFAULT_API_KEYS;
  const keys = new Map<string, string>();
  for (const entry of raw.split(',')) {
    const [key, tenant, extra] = entry.trim().split(':');
    if (!key || !tenant || extra !== undefined || !/^[a-zA-Z0-9_.-]+$/.test(tenant)) {
      invalid(
        'API_KEYS',
        `must be comma-separated key:tenant pairs (tenant: letters, digits, _ . -), got "${entry}"`,
      );
    }
    keys.set(key, tenant);
  }
  return keys;
}

/**
 * Reads `PORT`, `HOST`, `DAILY_BUDGET_USD`, `API_KEYS`, `BEDROCK_MODEL_ID`, and the AWS selection:
 * `AWS_REGION` (or `AWS_DEFAULT_REGION`) means real Bedrock with the SDK's default credentials, unless
 * `BEDROCK_EMULATOR=1` forces the in-process emulator; `ALERT_WEBHOOK_URL` + `ALERT_WEBHOOK_SECRET` post
 * the budget alerts. Invalid values throw naming the variable.
 */
export function readConfig(env: Record<string, string | undefined>, defaultPort: number): ExampleConfig {
  const forceEmulator = env.BEDROCK_EMULATOR === '1' || env.BEDROCK_EMULATOR === 'true';
  const awsRegion = forceEmulator
    ? undefined
    : env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim() || undefined;
  const config: ExampleConfig = {
    port: port(env, defaultPort),
    host: env.HOST?.trim() || '127.0.0.1',
    dailyBudgetMicrocents: dailyBudget(env),
    apiKeys: apiKeys(env),
    awsRegion,
    modelId: env.BEDROCK_MODEL_ID?.trim() || (awsRegion === undefined ? EMULATOR_MODEL : AWS_MODEL),
  };
  const alertUrl = env.ALERT_WEBHOOK_URL?.trim();
  if (alertUrl) {
    const secret = env.ALERT_WEBHOOK_SECRET?.trim();
    if (!secret)
      invalid('ALERT_WEBHOOK_SECRET', 'is required with ALERT_WEBHOOK_URL: the receiver verifies with it');
    let url: URL | undefined;
    try {
      url = new URL(alertUrl);
    } catch {
      invalid('ALERT_WEBHOOK_URL', `must be an http(s) URL, got "${alertUrl}"`);
    }
    // Plain http only to this machine (a local receiver); anything else must be https.
    const local = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) {
      invalid('ALERT_WEBHOOK_URL', `must be https (http only to localhost), got "${alertUrl}"`);
    }
    config.alertWebhook = { url: alertUrl, secret, allowHttp: url.protocol === 'http:' };
  }
  return config;
}
