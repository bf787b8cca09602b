import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { parseCliArgs } from '../src/cli-options.ts';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

function cli(
  args: string[],
): ChildProcess & { stdout: NodeJS.ReadableStream; stderr: NodeJS.ReadableStream } {
  return spawn(
    process.execPath,
    ['--conditions=@cycles-guard/source', '--import', 'tsx', 'src/cli.ts', ...args],
    {
      cwd: packageDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  ) as never;
}

async function output(
  child: ReturnType<typeof cli>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [code] = await once(child, 'exit');
  return { code: code as number | null, stdout, stderr };
}

/** Starts the CLI with `args` and resolves its URL once it listens. */
async function started(child: ReturnType<typeof cli>): Promise<string> {
  let printed = '';
  return new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      printed += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(printed);
      if (match?.[1]) resolve(match[1]);
    });
    child.once('exit', () => reject(new Error(`cli exited early: ${printed}`)));
  });
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

describe('cli', () => {
  it('prints its URL, serves requests and stops on SIGTERM', async () => {
    const child = cli(['--', '--port', '0', '--seed', '5']);
    children.push(child);
    const url = await started(child);
    const response = await fetch(`${url}/model/${encodeURIComponent('amazon.nova-lite-v1:0')}/converse`, {
      method: 'POST',
      body: JSON.stringify({
        messages: [{ role: 'user', content: [{ text: 'hi' }] }],
        inferenceConfig: { maxTokens: 3 },
      }),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { usage: { outputTokens: number } }).usage.outputTokens).toBe(3);
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(0);
  }, 15_000);

  it('--help prints the usage and exits 0; an unknown option names itself and exits 2', async () => {
    const help = await output(cli(['--help']));
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: bedrock-emulator/);
    expect(help.stdout).toMatch(/--tool-calls/);
    const unknown = await output(cli(['--nope']));
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--nope/);
    expect(unknown.stderr).toMatch(/Usage: bedrock-emulator/);
  }, 15_000);

  it('--tool-calls --tool-turns 1: the first turn that offers tools is answered with a tool call', async () => {
    const child = cli(['--port', '0', '--tool-calls', '--tool-turns', '1', '--output-tokens', '5']);
    children.push(child);
    const url = await started(child);
    const converse = (messages: unknown[]) =>
      fetch(`${url}/model/${encodeURIComponent('anthropic.claude-3-5-haiku-20241022-v1:0')}/converse`, {
        method: 'POST',
        body: JSON.stringify({
          messages,
          inferenceConfig: { maxTokens: 100 },
          toolConfig: {
            tools: [
              {
                toolSpec: {
                  name: 'lookup',
                  inputSchema: { json: { type: 'object', properties: { city: { type: 'string' } } } },
                },
              },
            ],
          },
        }),
      }).then((response) => response.json() as Promise<{ stopReason: string; output: unknown }>);
    const first = await converse([{ role: 'user', content: [{ text: 'hi' }] }]);
    expect(first.stopReason).toBe('tool_use');
    expect(JSON.stringify(first.output)).toMatch(/"name":"lookup"/);
    const second = await converse([
      { role: 'user', content: [{ text: 'hi' }] },
      { role: 'assistant', content: [{ text: 'calling' }] },
      { role: 'user', content: [{ text: 'go on' }] },
    ]);
    expect(second.stopReason).toBe('end_turn');
  }, 15_000);
});

describe('parseCliArgs', () => {
  it('maps the options onto startBedrockEmulator options', () => {
    expect(parseCliArgs(['--port', '0', '--tool', 'lookup', '--output-tokens', '7'])).toEqual({
      help: false,
      options: {
        port: 0,
        host: '127.0.0.1',
        seed: undefined,
        chunkTokens: undefined,
        latency: { firstByteMs: undefined, perChunkMs: undefined },
        outputTokens: 7,
        toolCalls: { tool: 'lookup' },
      },
    });
    expect(parseCliArgs(['-h'])).toEqual({ help: true });
  });

  it('names an option whose value is not a number', () => {
    expect(() => parseCliArgs(['--port', 'abc'])).toThrow("--port needs a number, got 'abc'");
    expect(() => parseCliArgs(['--tool-turns', ''])).toThrow('--tool-turns needs a number');
  });
});
