import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

describe('cli', () => {
  it('prints its URL, serves requests and stops on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [
        '--conditions=@cycles-guard/source',
        '--import',
        'tsx',
        'src/cli.ts',
        '--',
        '--port',
        '0',
        '--seed',
        '5',
      ],
      { cwd: packageDir, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      let output = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          const match = /listening on (http:\/\/\S+)/.exec(output);
          if (match?.[1]) resolve(match[1]);
        });
        child.once('exit', () => reject(new Error(`cli exited early: ${output}`)));
      });
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
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 15_000);
});
