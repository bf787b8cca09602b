import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// cycles-guard-server as its own process (the real bin, from source via tsx), so a load generator does
// not share its event loop. Request logging is at `warn`: one JSON line per request would measure pino.

const CLI = new URL('../src/cli.ts', import.meta.url).pathname;

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** A running server process. */
export interface ServerProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts the server with `config` (a config file's JSON; `port` and `logLevel` are filled in); `nodeArgs`
 * go to its Node (e.g. `--cpu-prof` to profile it under a benchmark's load).
 */
export async function startServerProcess(
  config: Record<string, unknown>,
  nodeArgs: string[] = [],
): Promise<ServerProcess> {
  const port = await freePort();
  const file = join(mkdtempSync(join(tmpdir(), 'cg-bench-')), 'cycles.json');
  writeFileSync(file, JSON.stringify({ port, logLevel: 'warn', ...config }));
  const child = spawn(
    process.execPath,
    [...nodeArgs, '--conditions=@cycles-guard/source', '--import', 'tsx', CLI, '--config', file],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  };
  // Logs are at `warn`, so readiness is polled on /health rather than read from the log.
  for (let waited = 0; waited < 30_000; waited += 100) {
    try {
      if ((await fetch(`${url}/health`)).ok) return { url, child, stop };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL');
  throw new Error('cycles-guard-server did not start within 30 s');
}
