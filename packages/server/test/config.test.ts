import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidConfigError } from '@cycles-guard/core';
import { describe, expect, it } from 'vitest';
import { applyServerEnv, loadServerConfig, parseServerConfig } from '../src/config.ts';

function fieldOf(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    expect(InvalidConfigError.isInstance(error), String(error)).toBe(true);
    return (error as InvalidConfigError).details?.field;
  }
  throw new Error('expected InvalidConfigError');
}

describe('server config', () => {
  it('has defaults: memory ledger on 127.0.0.1:7878, no keys, admin disabled', () => {
    expect(parseServerConfig({})).toEqual({
      ledgers: [],
      templates: [],
      tenants: {},
      host: '127.0.0.1',
      port: 7878,
      ledger: { type: 'memory' },
      apiKeys: {},
      bodyLimitBytes: 65_536,
      logLevel: 'info',
    });
  });

  it('reads a full file, reusing the ledger config format for budgets', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cg-server-'));
    const file = join(dir, 'cycles.json');
    writeFileSync(
      file,
      JSON.stringify({
        port: 0,
        ledger: { type: 'redis', url: 'redis://127.0.0.1:6379', keyPrefix: 'cg:' },
        apiKeys: { 'key-acme-0001': 'acme' },
        adminApiKey: 'admin-0123456789abcdef',
        ledgers: [
          { scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 500_000_000, window: { period: 'day' } },
        ],
        templates: [{ pattern: 'tenant:*/app:chat', unit: 'USD_MICROCENTS', allocated: 1000 }],
        tenants: { acme: { defaultReservationTtlMs: 30_000 } },
      }),
    );
    const config = loadServerConfig(file);
    expect(config.ledger).toEqual({ type: 'redis', url: 'redis://127.0.0.1:6379', keyPrefix: 'cg:' });
    expect(config.ledgers[0]?.window).toEqual({ period: 'day' });
    expect(config.templates[0]?.pattern).toBe('tenant:*/app:chat');
    expect(config.apiKeys).toEqual({ 'key-acme-0001': 'acme' });
  });

  it.each([
    [{ prt: 1 }, 'prt'],
    [{ port: 70_000 }, 'port'],
    [{ ledger: { type: 'mongo' } }, 'ledger.type'],
    [{ ledger: { type: 'redis', url: 'localhost' } }, 'ledger.url'],
    [{ apiKeys: { short: 'acme' } }, 'apiKeys["sh…"]'],
    [{ apiKeys: { 'long-enough-key': 'ac me' } }, 'apiKeys["long…"]'],
    [{ adminApiKey: 'tiny' }, 'adminApiKey'],
    [{ ledgers: [{ scope: 'tenant:acme', unit: 'DOLLARS', allocated: 1 }] }, 'ledgers[0].unit'],
    [{ bodyLimitBytes: 10 }, 'bodyLimitBytes'],
  ])('rejects %j naming %s', (json, field) => {
    expect(fieldOf(() => parseServerConfig(json))).toBe(field);
  });

  it('names the file on a read or parse error (read as core reads a ledger config file)', () => {
    expect(() => loadServerConfig('/nonexistent/cycles.json')).toThrow(
      /^\/nonexistent\/cycles.json: cannot be read/,
    );
    expect(fieldOf(() => loadServerConfig('/nonexistent/cycles.json'))).toBe('$');
    const file = join(mkdtempSync(join(tmpdir(), 'cycles-server-')), 'cycles.json');
    writeFileSync(file, '{ "port": ');
    expect(() => loadServerConfig(file)).toThrow(InvalidConfigError);
    expect(() => loadServerConfig(file)).toThrow(/cycles.json: is not valid JSON/);
  });

  it('lets the environment override the file', () => {
    const config = applyServerEnv(parseServerConfig({ apiKeys: { 'file-key-0001': 'acme' } }), {
      CYCLES_SERVER_PORT: '9000',
      CYCLES_SERVER_HOST: '0.0.0.0',
      CYCLES_REDIS_URL: 'redis://cache:6379',
      CYCLES_REDIS_KEY_PREFIX: 'shared:',
      CYCLES_ADMIN_API_KEY: 'admin-from-env-0123',
      CYCLES_SERVER_API_KEYS: 'env-key-00001=beta, env-key-00002=gamma',
      CYCLES_LOG_LEVEL: 'warn',
    });
    expect(config).toMatchObject({
      port: 9000,
      host: '0.0.0.0',
      ledger: { type: 'redis', url: 'redis://cache:6379', keyPrefix: 'shared:' },
      adminApiKey: 'admin-from-env-0123',
      logLevel: 'warn',
      apiKeys: { 'file-key-0001': 'acme', 'env-key-00001': 'beta', 'env-key-00002': 'gamma' },
    });
    expect(fieldOf(() => applyServerEnv(parseServerConfig({}), { CYCLES_SERVER_PORT: 'x' }))).toBe(
      'CYCLES_SERVER_PORT',
    );
    expect(fieldOf(() => applyServerEnv(parseServerConfig({}), { CYCLES_REDIS_KEY_PREFIX: 'x:' }))).toBe(
      'CYCLES_REDIS_KEY_PREFIX',
    );
    expect(fieldOf(() => applyServerEnv(parseServerConfig({}), { CYCLES_SERVER_API_KEYS: 'nokey' }))).toBe(
      'CYCLES_SERVER_API_KEYS',
    );
  });

  it('reads webhookSecurity (GOV WebhookSecurityConfig), defaults filled in, bad values naming the field', () => {
    expect(
      parseServerConfig({ webhookSecurity: { allow_http: true, blocked_cidr_ranges: ['10.0.0.0/8'] } })
        .webhookSecurity,
    ).toEqual({ allow_http: true, blocked_cidr_ranges: ['10.0.0.0/8'], allowed_url_patterns: [] });
    expect(parseServerConfig({ webhookSecurity: {} }).webhookSecurity?.blocked_cidr_ranges).toContain(
      '169.254.0.0/16',
    );
    expect(fieldOf(() => parseServerConfig({ webhookSecurity: { blocked_cidr_ranges: ['10/8'] } }))).toBe(
      'webhookSecurity.blocked_cidr_ranges',
    );
    expect(fieldOf(() => parseServerConfig({ webhookSecurity: { allowHttp: true } }))).toBe(
      'webhookSecurity.allowHttp',
    );
    expect(fieldOf(() => parseServerConfig({ webhookSecurity: [] }))).toBe('webhookSecurity');
    expect(
      fieldOf(() => parseServerConfig({ webhookAllowHttp: true, webhookSecurity: { allow_http: true } })),
    ).toBe('webhookAllowHttp');
  });

  it('reads the ledger’s rate events from the file and the environment, checked as the ledger checks them', () => {
    const file = parseServerConfig({
      events: { denialRate: { threshold: 0.2, minSamples: 5 }, burnRate: false },
    });
    expect(file.events).toEqual({ denialRate: { threshold: 0.2, minSamples: 5 }, burnRate: false });
    const env = applyServerEnv(file, {
      CYCLES_DENIAL_RATE_WINDOW_MS: '60000',
      CYCLES_EXPIRY_RATE_THRESHOLD: '0.5',
    });
    expect(env.events).toEqual({
      denialRate: { threshold: 0.2, minSamples: 5, windowMs: 60_000 },
      expiryRate: { threshold: 0.5 },
      burnRate: false,
    });
    expect(
      applyServerEnv(parseServerConfig({}), {
        CYCLES_BURN_RATE_MULTIPLIER: '5',
        CYCLES_BURN_RATE_WINDOW_MS: '120000',
      }).events,
    ).toEqual({ burnRate: { multiplier: 5, windowMs: 120_000 } });
    expect(applyServerEnv(parseServerConfig({}), { CYCLES_BURN_RATE: 'off' }).events).toEqual({
      burnRate: false,
    });
    expect(applyServerEnv(parseServerConfig({}), {}).events).toBeUndefined();
    for (const [json, field] of [
      [{ events: { denialRate: { threshold: 2 } } }, 'events.denialRate.threshold'],
      [{ events: { expiryRate: { windowMs: 10 } } }, 'events.expiryRate.windowMs'],
      [{ events: { burnRate: { multiplier: 1 } } }, 'events.burnRate.multiplier'],
      [{ events: { denialRate: { treshold: 0.2 } } }, 'events.denialRate.treshold'],
      [{ events: { denialRate: false } }, 'events.denialRate'],
      [{ events: { thresholds: [0.5] } }, 'events.thresholds'],
      [{ events: [] }, 'events'],
    ] as const) {
      expect(
        fieldOf(() => parseServerConfig(json)),
        JSON.stringify(json),
      ).toBe(field);
    }
    expect(() => parseServerConfig({ events: { denialRate: { threshold: 2 } } })).toThrow(
      'events.denialRate.threshold must be a fraction in [0, 1]',
    );
    for (const [env, variable] of [
      [{ CYCLES_DENIAL_RATE_THRESHOLD: '1.5' }, 'CYCLES_DENIAL_RATE_THRESHOLD'],
      [{ CYCLES_DENIAL_RATE_THRESHOLD: 'high' }, 'CYCLES_DENIAL_RATE_THRESHOLD'],
      [{ CYCLES_EXPIRY_RATE_MIN_SAMPLES: '0' }, 'CYCLES_EXPIRY_RATE_MIN_SAMPLES'],
      [{ CYCLES_BURN_RATE_BASELINE_WINDOWS: '1000' }, 'CYCLES_BURN_RATE_BASELINE_WINDOWS'],
      [{ CYCLES_BURN_RATE: 'no' }, 'CYCLES_BURN_RATE'],
      [{ CYCLES_BURN_RATE: 'off', CYCLES_BURN_RATE_MULTIPLIER: '4' }, 'CYCLES_BURN_RATE_MULTIPLIER'],
    ] as const) {
      expect(
        fieldOf(() => applyServerEnv(parseServerConfig({}), env)),
        JSON.stringify(env),
      ).toBe(variable);
    }
  });
});
