import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

// The real bin: `cycles-guard-server --config cycles.json`, run from source with tsx.

const CLI = new URL('../src/cli.ts', import.meta.url).pathname;
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

function writeConfig(json: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), 'cg-cli-')), 'cycles.json');
  writeFileSync(file, JSON.stringify(json));
  return file;
}

function run(args: string[], env: Record<string, string> = {}) {
  const child = spawn(
    process.execPath,
    ['--conditions=@cycles-guard/source', '--import', 'tsx', CLI, ...args],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const listening = async (): Promise<string> => {
    for (let waited = 0; waited < 20_000; waited += 50) {
      const match = /"url":"(http:[^"]+)"/.exec(stdout);
      if (match?.[1] !== undefined) return match[1];
      if (child.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`server did not start: ${stdout}${stderr}`);
  };
  return { child, exited, listening, output: () => ({ stdout, stderr }) };
}

describe('cycles-guard-server CLI', () => {
  it('serves a config file, logs requests, and exits 0 on SIGTERM', async () => {
    const config = writeConfig({
      port: 0,
      apiKeys: { 'cli-key-00001': 'acme' },
      ledgers: [{ scope: 'tenant:acme', unit: 'TOKENS', allocated: 1000 }],
    });
    const server = run(['--config', config]);
    const url = await server.listening();
    expect(await (await fetch(`${url}/health`)).json()).toMatchObject({ status: 'ok' });
    const balances = await fetch(`${url}/v1/balances?tenant=acme`, {
      headers: { 'X-Cycles-API-Key': 'cli-key-00001' },
    });
    expect(
      ((await balances.json()) as { balances: { remaining: unknown }[] }).balances[0]?.remaining,
    ).toEqual({ unit: 'TOKENS', amount: 1000 });
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.output().stdout).toMatch(/"status":200.*"msg":"request"/);
    expect(server.output().stdout).toMatch(/shutting down/);
  }, 30_000);

  it('takes its settings from the environment too', async () => {
    const server = run([], {
      CYCLES_SERVER_PORT: '0',
      CYCLES_SERVER_API_KEYS: 'env-key-00001=beta',
      CYCLES_ADMIN_API_KEY: 'admin-key-0123456789',
    });
    const url = await server.listening();
    const created = await fetch(`${url}/v1/admin/budgets`, {
      method: 'POST',
      headers: { 'X-Admin-API-Key': 'admin-key-0123456789', 'Content-Type': 'application/json' },
      body: JSON.stringify({ scope: 'tenant:beta', unit: 'TOKENS', allocated: 5 }),
    });
    expect(created.status).toBe(201);
    server.child.kill('SIGINT');
    expect(await server.exited).toBe(0);
  }, 30_000);

  it('exits 1 naming the bad field of an invalid config', async () => {
    const server = run(['--config', writeConfig({ port: 'eighty' })]);
    expect(await server.exited).toBe(1);
    expect(server.output().stderr).toMatch(/port must be an integer/);
  }, 30_000);
});
