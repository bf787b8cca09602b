import 'reflect-metadata';
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { InvalidConfigError } from '@cycles-guard/core';
import { describe, expect, it } from 'vitest';
import { readConfig } from '../src/config.ts';
import { startExample } from '../src/server.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

describe('startExample', () => {
  it('starts the in-process emulator when no AWS region is configured, and serves the chat API', async () => {
    const example = await startExample({ PORT: '0', DAILY_BUDGET_USD: '0.01' });
    try {
      expect(example.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(example.bedrockTarget).toMatch(/^emulator at http:\/\/127\.0\.0\.1:\d+$/);
      const response = await fetch(`${example.url}/chat`, {
        method: 'POST',
        headers: { 'x-api-key': 'demo-key-acme', 'content-type': 'application/json' },
        body: JSON.stringify({ message: 'Hello' }),
      });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { tenant: string; budget: { chargedMicrocents: number } };
      expect(body.tenant).toBe('acme');
      const balances = await fetch(`${example.url}/balances`, { headers: { 'x-api-key': 'demo-key-acme' } });
      expect(await balances.json()).toMatchObject({
        balances: [{ allocated: 1_000_000, spent: body.budget.chargedMicrocents }],
      });
    } finally {
      await example.close();
    }
  });
});

/** The child's stdout and stderr once they match `pattern`; rejects with them if it exits first or times out. */
function outputMatching(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(
      () => reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (!pattern.test(output)) return;
      clearTimeout(timer);
      resolve(output);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before printing ${pattern}:\n${output}`));
    });
  });
}

describe('pnpm start (src/main.ts)', () => {
  it('prints the URL it listens on, serves requests, and exits 0 on SIGTERM', async () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const child = spawn(
      process.execPath,
      ['--conditions=@cycles-guard/source', '--import', 'tsx', 'src/main.ts'],
      {
        cwd: root,
        env: { ...process.env, PORT: '0', AWS_REGION: '', AWS_DEFAULT_REGION: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      // The Bedrock line is printed after the URL line. A cold start (tsx compiling the workspace sources)
      // can take a while on a busy machine.
      const output = await outputMatching(child, /Bedrock: emulator at http:\/\/127\.0\.0\.1:\d+/, 60_000);
      const url = /listening on (http:\/\/\S+)/.exec(output)![1]!;
      const balances = await fetch(`${url}/balances`, { headers: { 'x-api-key': 'demo-key-globex' } });
      expect(await balances.json()).toEqual({ tenant: 'globex', balances: [] });
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 90_000);
});

describe('readConfig', () => {
  it('defaults to the emulator, $0.05 a day and two demo keys', () => {
    const config = readConfig({}, 3001);
    expect(config).toMatchObject({
      port: 3001,
      host: '127.0.0.1',
      dailyBudgetMicrocents: 5_000_000,
      awsRegion: undefined,
      modelId: 'anthropic.claude-3-5-haiku-20241022-v1:0',
    });
    expect([...config.apiKeys]).toEqual([
      ['demo-key-acme', 'acme'],
      ['demo-key-globex', 'globex'],
    ]);
  });

  it('selects real Bedrock from AWS_REGION (inference-profile model id), unless BEDROCK_EMULATOR=1', () => {
    expect(readConfig({ AWS_REGION: 'eu-west-1' }, 3000)).toMatchObject({
      awsRegion: 'eu-west-1',
      modelId: 'us.anthropic.claude-3-5-haiku-20241022-v1:0',
    });
    expect(readConfig({ AWS_DEFAULT_REGION: 'us-west-2', BEDROCK_MODEL_ID: 'm.x-v1:0' }, 3000)).toMatchObject(
      {
        awsRegion: 'us-west-2',
        modelId: 'm.x-v1:0',
      },
    );
    expect(readConfig({ AWS_REGION: 'eu-west-1', BEDROCK_EMULATOR: '1' }, 3000).awsRegion).toBeUndefined();
  });

  it('rejects invalid values, naming the variable', () => {
    const failure = (env: Record<string, string>) => {
      try {
        readConfig(env, 3000);
      } catch (error) {
        return error;
      }
      throw new Error('expected readConfig to throw');
    };
    const budget = failure({ DAILY_BUDGET_USD: 'ten' });
    expect(budget).toBeInstanceOf(InvalidConfigError);
    expect((budget as InvalidConfigError).message).toMatch(/^DAILY_BUDGET_USD must be a positive amount/);
    expect((failure({ PORT: '70000' }) as Error).message).toMatch(/^PORT must be a port number/);
    expect((failure({ API_KEYS: 'only-a-key' }) as Error).message).toMatch(
      /^API_KEYS must be comma-separated/,
    );
    expect((failure({ API_KEYS: 'k:bad tenant' }) as Error).message).toMatch(/^API_KEYS/);
  });
});
