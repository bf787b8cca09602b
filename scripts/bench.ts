// `pnpm bench [prefix]`: runs every benchmark whose metric names start with prefix, prints a table
// against the targets and merges the figures into bench/results.json (with node version and date).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** What a `*.bench.ts` file exports as `benchmarks`. */
export interface Benchmark {
  /** Metric names this benchmark produces, each with its target (none: reported for information). */
  metrics: Record<string, { target?: number; better: 'higher' | 'lower'; unit: string }>;
  run(): Promise<Record<string, number>>;
}

type Row = { metric: string; value: number; target: string; unit: string; ok: boolean };

const root = process.cwd();

/** Runs one benchmark of one file and answers its rows (the child side of `runIsolated`). */
async function runOne(file: string, index: number): Promise<Row[]> {
  const { benchmarks } = (await import(pathToFileURL(join(root, file)).href)) as { benchmarks: Benchmark[] };
  const benchmark = benchmarks[index] as Benchmark;
  const results = await benchmark.run();
  return Object.entries(benchmark.metrics).map(([metric, spec]) => {
    const value = results[metric];
    if (value === undefined) throw new Error(`${file} did not report ${metric}`);
    const ok =
      spec.target === undefined || (spec.better === 'higher' ? value >= spec.target : value <= spec.target);
    return {
      metric,
      value,
      target: spec.target === undefined ? '–' : `${spec.better === 'higher' ? '≥' : '≤'} ${spec.target}`,
      unit: spec.unit,
      ok,
    };
  });
}

/**
 * Each benchmark runs in a fresh Node process (same flags as this one): run in one process, the
 * benchmarks before it leave JIT feedback (shared core code optimised for their shapes) and heap
 * behind, which moved later figures by up to a third.
 */
function runIsolated(file: string, index: number): Row[] {
  const child = spawnSync(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), '--run', file, String(index)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  if (child.status !== 0)
    throw new Error(`${file} (benchmark ${index}) failed with exit code ${child.status}`);
  const marker = child.stdout.lastIndexOf(ROWS_MARKER);
  if (marker === -1) throw new Error(`${file} (benchmark ${index}) reported no figures`);
  return JSON.parse(child.stdout.slice(marker + ROWS_MARKER.length)) as Row[];
}

const ROWS_MARKER = '\n@@bench-rows@@';

if (process.argv[2] === '--run') {
  const rows = await runOne(process.argv[3] as string, Number(process.argv[4]));
  process.stdout.write(`${ROWS_MARKER}${JSON.stringify(rows)}`);
  process.exit(0);
}

const prefix = process.argv[2] ?? '';
const files = ['packages', 'apps'].flatMap((dir) =>
  existsSync(dir)
    ? readdirSync(dir).flatMap((name) => {
        const benchDir = join(dir, name, 'bench');
        return existsSync(benchDir)
          ? readdirSync(benchDir)
              .filter((file) => file.endsWith('.bench.ts'))
              .map((file) => join(benchDir, file))
          : [];
      })
    : [],
);

const rows: Row[] = [];
for (const file of files) {
  // Imported here only to read the metric names; the benchmarks run in their own processes.
  const { benchmarks } = (await import(pathToFileURL(join(root, file)).href)) as { benchmarks: Benchmark[] };
  for (const [index, benchmark] of benchmarks.entries()) {
    if (!Object.keys(benchmark.metrics).some((metric) => metric.startsWith(prefix))) continue;
    console.error(`running ${relative(root, file)}: ${Object.keys(benchmark.metrics).join(', ')}`);
    rows.push(...runIsolated(file, index));
  }
}

if (rows.length === 0) {
  console.error(`no benchmark metric starts with "${prefix}"`);
  process.exit(1);
}
console.table(
  rows.map(({ metric, value, target, unit, ok }) => ({
    metric,
    value: Number(value.toPrecision(6)),
    unit,
    target,
    result: target === '–' ? 'info' : ok ? 'ok' : 'MISSED',
  })),
);

const resultsFile = join(root, 'bench', 'results.json');
mkdirSync(join(root, 'bench'), { recursive: true });
const previous = existsSync(resultsFile) ? JSON.parse(readFileSync(resultsFile, 'utf8')) : { metrics: {} };
for (const { metric, value, target, unit, ok } of rows) {
  previous.metrics[metric] = {
    value,
    unit,
    target,
    ok,
    node: process.version,
    date: new Date().toISOString(),
  };
}
writeFileSync(resultsFile, `${JSON.stringify(previous, null, 2)}\n`);
console.error(`merged ${rows.length} figures into ${relative(root, resultsFile)}`);
process.exit(rows.every((row) => row.ok) ? 0 : 1);
