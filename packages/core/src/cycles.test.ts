import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCycles, currentCycles, cyclesFromEnv, getDefaultCycles, setDefaultCycles } from './cycles.ts';
import { InvalidConfigError } from './protocol/errors.ts';

describe('createCycles', () => {
  afterEach(() => setDefaultCycles(undefined));

  it('builds a memory ledger from ledgers and a config file', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'cycles-'));
    const file = join(directory, 'budgets.json');
    writeFileSync(
      file,
      JSON.stringify({ ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 500 }] }),
    );
    const cycles = createCycles({
      configFile: file,
      ledgers: [{ scope: 'tenant:acme/app:chat', unit: 'USD_MICROCENTS', allocated: 100 }],
      subject: { tenant: 'acme' },
      heartbeat: false,
    });
    const hold = await cycles.reserve({ estimate: 80, subject: { app: 'chat' } });
    await hold.commit(80);
    const balances = await cycles.authority.getBalances({ tenant: 'acme' });
    expect(balances.balances.map((balance) => [balance.scopePath, balance.spent?.amount])).toEqual(
      expect.arrayContaining([
        ['tenant:acme', 80],
        ['tenant:acme/app:chat', 80],
      ]),
    );
    await cycles.close();
  });

  it('rejects invalid options at creation', () => {
    expect(() => createCycles({ failMode: 'maybe' as 'open' })).toThrow(InvalidConfigError);
  });

  it('cyclesFromEnv reads the environment', () => {
    const cycles = cyclesFromEnv({ CYCLES_TENANT: 'acme', CYCLES_UNIT: 'TOKENS' });
    expect(cycles.config).toMatchObject({ unit: 'TOKENS', subject: { tenant: 'acme' } });
    expect(() => cyclesFromEnv({ CYCLES_REDIS_URL: 'localhost:6379' })).toThrow(/CYCLES_REDIS_URL/);
  });

  it('CYCLES_REDIS_URL with no Redis ledger registered (the package never imported): InvalidConfigError naming the fix', () => {
    const attempt = () => cyclesFromEnv({ CYCLES_REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(attempt).toThrow(InvalidConfigError);
    expect(attempt).toThrow(
      /CYCLES_REDIS_URL is set but no ledger is registered for redis: URLs: import '@cycles-guard\/redis'/,
    );
  });

  it('has a lazily created, replaceable process default used outside any context', () => {
    const first = getDefaultCycles();
    expect(getDefaultCycles()).toBe(first);
    const mine = createCycles({ heartbeat: false });
    setDefaultCycles(mine);
    expect(currentCycles()).toBe(mine);
    const other = createCycles({ heartbeat: false });
    expect(other.run({}, () => currentCycles())).toBe(other);
  });

  // A CommonJS app loads core's CJS build; a package it reaches through import() loads the ESM build.
  // Each creating its own default embedded ledger would grant the same budget twice.
  it('shares the process default with a second copy of the module', async () => {
    vi.resetModules();
    const copy = await import('./cycles.ts');
    expect(copy.getDefaultCycles).not.toBe(getDefaultCycles);
    expect(copy.getDefaultCycles()).toBe(getDefaultCycles());
    const mine = createCycles({ heartbeat: false });
    copy.setDefaultCycles(mine);
    expect(currentCycles()).toBe(mine);
  });
});
