// The Redis ledger under attack: the whole campaign in this process on a manual clock, then 2–4
// child processes sharing one key prefix (model runs per process + a shared crowd tenant).

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { attackBackend } from './lib/attack.ts';
import { checkCrowd, provisionCrowd } from './lib/crowd.ts';
import { mergeFigures, Tally, type TortureModule } from './lib/figures.ts';
import { quick } from './lib/mode.ts';
import { startRedisServer } from './lib/packages.ts';
import { freshPrefix, redisTarget } from './lib/targets.ts';

const WORKER = fileURLToPath(new URL('./lib/redis-worker.ts', import.meta.url));

interface WorkerReport {
  figures: Record<string, number>;
  operations: number;
  charged: number;
}

function runWorker(args: string[], log: (line: string) => void): Promise<WorkerReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=@cycles-guard/source', '--import', 'tsx', WORKER, ...args],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += String(chunk);
    });
    child.stderr.on('data', (chunk) => {
      for (const line of String(chunk).split('\n')) if (line.trim() !== '') log(line);
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last.startsWith('{')) reject(new Error(`redis worker exited with ${code}`));
      else resolve(JSON.parse(last) as WorkerReport);
    });
  });
}

export default {
  name: 'redis',
  async run({ seed, log }) {
    const server = await startRedisServer();
    try {
      const replay = `pnpm torture redis --seed ${seed}`;
      const figures = await attackBackend({
        seed,
        log,
        open: async () => redisTarget(server.url),
        replay,
        sizes: {
          quick: {
            runs: 2,
            steps: 120,
            flood: { reservations: 10_050, events: 2000, timeBoundMs: 5000, concurrency: 32 },
          },
          full: {
            runs: 12,
            steps: 300,
            flood: { reservations: 10_050, events: 20_000, timeBoundMs: 20_000, concurrency: 32 },
          },
        },
      });
      // Several processes, one key prefix.
      const workers = quick() ? 2 : 4;
      const prefix = freshPrefix();
      const shared = redisTarget(server.url, prefix);
      const tally = new Tally(log);
      const started = performance.now();
      try {
        await provisionCrowd(shared.admin);
        const reports = await Promise.all(
          Array.from({ length: workers }, (_, worker) =>
            runWorker(
              [
                server.url,
                prefix,
                String(seed),
                String(worker),
                quick() ? '80' : '250',
                quick() ? '300' : '1500',
                quick() ? `${replay} --quick` : replay,
              ],
              log,
            ),
          ),
        );
        const charged = reports.reduce((sum, report) => sum + report.charged, 0);
        await checkCrowd(shared.admin, tally, charged, quick() ? `${replay} --quick` : replay);
        for (const report of reports) mergeFigures(figures, report.figures);
        figures.operations =
          (figures.operations as number) + reports.reduce((sum, report) => sum + report.operations, 0);
        figures.runs = (figures.runs as number) + workers;
      } finally {
        await shared.close();
      }
      log(`  ${workers} processes on one prefix: ${((performance.now() - started) / 1000).toFixed(1)} s`);
      figures['processes sharing one prefix'] = workers;
      return mergeFigures(figures, tally.figures());
    } finally {
      await server.remove();
    }
  },
} satisfies TortureModule;
