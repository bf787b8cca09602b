import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../protocol/errors.ts';
import { loadLedgerConfig, parseLedgerConfig } from './config-file.ts';

function failure(run: () => unknown): InvalidConfigError {
  try {
    run();
  } catch (error) {
    if (InvalidConfigError.isInstance(error)) return error as InvalidConfigError;
    throw error;
  }
  throw new Error('expected an InvalidConfigError');
}

describe('ledger config file', () => {
  it('parses ledgers, templates and tenants, normalizing scopes', () => {
    const config = parseLedgerConfig({
      ledgers: [
        { scope: 'tenant:ACME', unit: 'TOKENS', allocated: 100, window: { period: 'day', timeZone: 'UTC' } },
      ],
      templates: [{ pattern: 'tenant:*/app:*', unit: 'TOKENS', allocated: 10 }],
      tenants: { acme: { defaultCommitOveragePolicy: 'REJECT' } },
    });
    expect(config.ledgers[0]?.scope).toBe('tenant:acme');
    expect(config.templates).toHaveLength(1);
    expect(config.tenants.acme?.defaultCommitOveragePolicy).toBe('REJECT');
  });

  it.each([
    [{ ledgers: [{ scope: 'tenant:a', unit: 'TOKENS', allocated: -1 }] }, 'ledgers[0].allocated'],
    [{ ledgers: [{ scope: 'app:x/tenant:a', unit: 'TOKENS', allocated: 1 }] }, 'ledgers[0].scope'],
    [{ ledgers: [{ scope: 'tenant:a', unit: 'EUR', allocated: 1 }] }, 'ledgers[0].unit'],
    [
      { ledgers: [{ scope: 'tenant:a', unit: 'TOKENS', allocated: 1, window: { period: 'year' } }] },
      'ledgers[0].window.period',
    ],
    [
      {
        ledgers: [
          {
            scope: 'tenant:a',
            unit: 'TOKENS',
            allocated: 1,
            window: { period: 'day', timeZone: 'Mars/Base' },
          },
        ],
      },
      'ledgers[0].window.timeZone',
    ],
    [{ templates: [{ pattern: 'team:*', unit: 'TOKENS', allocated: 1 }] }, 'templates[0].pattern'],
    [{ tenants: { acme: { status: 'GONE' } } }, 'tenants.acme.status'],
    [{ ledger: [] }, 'ledger'],
  ])('rejects %j naming %s', (config, field) => {
    expect(failure(() => parseLedgerConfig(config)).details?.field).toBe(field);
  });

  it('rejects duplicate ledgers and bad JSON', () => {
    const duplicate = { scope: 'tenant:a', unit: 'TOKENS', allocated: 1 };
    expect(failure(() => parseLedgerConfig({ ledgers: [duplicate, duplicate] })).details?.field).toBe(
      'ledgers[1]',
    );
    expect(failure(() => parseLedgerConfig('{ nope')).message).toMatch(/not valid JSON/);
  });

  it('loads a file and names it in errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ledger-config-'));
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ ledgers: [{ scope: 'tenant:a', unit: 'CREDITS', allocated: 5 }] }));
    expect(loadLedgerConfig(good).ledgers).toHaveLength(1);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ledgers: [{ scope: 'tenant:a', unit: 'CREDITS' }] }));
    expect(failure(() => loadLedgerConfig(bad)).message).toContain(bad);
    expect(failure(() => loadLedgerConfig(join(dir, 'missing.json'))).message).toMatch(/cannot be read/);
  });
});
