import { describe, expect, it } from 'vitest';
import { optionsFromEnv, resolveConfig } from './config.ts';
import { InvalidConfigError } from './protocol/errors.ts';

function fieldOf(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    expect(InvalidConfigError.isInstance(error)).toBe(true);
    return (error as InvalidConfigError).details?.field;
  }
  throw new Error('expected InvalidConfigError');
}

describe('resolveConfig', () => {
  it('applies defaults', () => {
    expect(resolveConfig({})).toMatchObject({
      unit: 'USD_MICROCENTS',
      failMode: 'closed',
      minOutputTokens: 64,
      heartbeat: true,
      retry: { attempts: 4, baseDelayMs: 100 },
    });
  });

  it('rejects invalid options naming them', () => {
    expect(fieldOf(() => resolveConfig({ ttlMs: 10 }))).toBe('ttlMs');
    expect(fieldOf(() => resolveConfig({ minOutputTokens: 0 }))).toBe('minOutputTokens');
    expect(fieldOf(() => resolveConfig({ retry: { attempts: 1.5 } }))).toBe('retry.attempts');
    expect(fieldOf(() => resolveConfig({ unit: 'CREDITS' as 'TOKENS' }))).toBe('unit');
  });
});

describe('optionsFromEnv', () => {
  it('reads CYCLES_* variables', () => {
    expect(
      optionsFromEnv({
        CYCLES_BUDGETS_FILE: '/etc/budgets.json',
        CYCLES_TENANT: 'acme',
        CYCLES_APP: 'chat',
        CYCLES_UNIT: 'TOKENS',
        CYCLES_FAIL_MODE: 'open',
        CYCLES_TTL_MS: '30000',
        CYCLES_MIN_OUTPUT_TOKENS: '16',
        CYCLES_OVERAGE_POLICY: 'REJECT',
        CYCLES_RETRY_ATTEMPTS: '2',
        CYCLES_HEARTBEAT: 'false',
      }),
    ).toEqual({
      configFile: '/etc/budgets.json',
      subject: { tenant: 'acme', app: 'chat' },
      unit: 'TOKENS',
      failMode: 'open',
      ttlMs: 30_000,
      minOutputTokens: 16,
      overagePolicy: 'REJECT',
      retry: { attempts: 2 },
      heartbeat: false,
    });
  });

  it('ignores empty variables', () => {
    expect(optionsFromEnv({ CYCLES_TTL_MS: '', CYCLES_API_KEY: '' })).toEqual({});
  });

  it.each([
    ['CYCLES_UNIT', 'DOLLARS'],
    ['CYCLES_FAIL_MODE', 'sometimes'],
    ['CYCLES_TTL_MS', '12s'],
    ['CYCLES_TTL_MS', '500'],
    ['CYCLES_GRACE_PERIOD_MS', '-1'],
    ['CYCLES_MIN_OUTPUT_TOKENS', '0'],
    ['CYCLES_OVERAGE_POLICY', 'ALWAYS'],
    ['CYCLES_RETRY_ATTEMPTS', '100'],
    ['CYCLES_HEARTBEAT', 'maybe'],
    ['CYCLES_TENANT', 'acme corp'],
    ['CYCLES_REDIS_URL', 'localhost:6379'],
  ])('rejects %s=%s naming the variable', (variable, value) => {
    expect(fieldOf(() => optionsFromEnv({ [variable]: value }))).toBe(variable);
  });

  it.each([
    [{ CYCLES_BASE_URL: 'https://cycles.example' }, 'CYCLES_API_KEY'],
    [{ CYCLES_API_KEY: 'secret' }, 'CYCLES_BASE_URL'],
    [{ CYCLES_BASE_URL: 'ftp://cycles.example', CYCLES_API_KEY: 'secret' }, 'CYCLES_BASE_URL'],
    [
      { CYCLES_BASE_URL: 'https://x', CYCLES_API_KEY: 'k', CYCLES_REDIS_URL: 'redis://r' },
      'CYCLES_REDIS_URL',
    ],
    [
      { CYCLES_BASE_URL: 'https://x', CYCLES_API_KEY: 'k', CYCLES_BUDGETS_FILE: 'b.json' },
      'CYCLES_BUDGETS_FILE',
    ],
  ])('rejects an incomplete or conflicting authority selection %j naming %s', (env, variable) => {
    expect(fieldOf(() => optionsFromEnv(env))).toBe(variable);
  });

  it('CYCLES_BASE_URL + CYCLES_API_KEY select the HTTP authority', () => {
    const options = optionsFromEnv({ CYCLES_BASE_URL: 'http://127.0.0.1:1', CYCLES_API_KEY: 'k' });
    expect(typeof options.authority?.reserve).toBe('function');
    expect(options.configFile).toBeUndefined();
  });
});

describe('settlement outbox options', () => {
  it('reads CYCLES_OUTBOX, CYCLES_OUTBOX_DIR and CYCLES_OUTBOX_INTENTS', () => {
    expect(optionsFromEnv({ CYCLES_OUTBOX: 'false' }).outbox).toEqual({ enabled: false });
    expect(
      optionsFromEnv({ CYCLES_OUTBOX_DIR: '/var/lib/app/outbox', CYCLES_OUTBOX_INTENTS: 'off' }).outbox,
    ).toEqual({
      directory: '/var/lib/app/outbox',
      intents: false,
    });
    expect(optionsFromEnv({}).outbox).toBeUndefined();
    expect(fieldOf(() => optionsFromEnv({ CYCLES_OUTBOX: 'maybe' }))).toBe('CYCLES_OUTBOX');
  });

  it('rejects invalid outbox options naming them', () => {
    expect(fieldOf(() => resolveConfig({ outbox: { replayIntervalMs: 5 } }))).toBe('outbox.replayIntervalMs');
    expect(fieldOf(() => resolveConfig({ outbox: { directory: '' } }))).toBe('outbox.directory');
    expect(fieldOf(() => resolveConfig({ outbox: { enabled: 'no' as unknown as boolean } }))).toBe(
      'outbox.enabled',
    );
    expect(resolveConfig({ outbox: { intents: false } }).outbox).toEqual({ intents: false });
  });
});
