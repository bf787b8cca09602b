// `pnpm bench [prefix]`: runs every benchmark whose metric names start with prefix, prints a table
// against the targets and merges the figures into bench/results.json (with node version and date).
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

/** What a `*.bench.ts` file exports as `benchmarks`. */
export interface Benchmark {
  /** Metric names this benchmark produces, each with its target. */
  metrics: Record<string, { target: number; better: 'higher' | 'lower'; unit: string }>;
  run(): Promise<Record<string, number>>;
}

const prefix = process.argv[2] ?? '';
const root = process.cwd();
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

const rows: { metric: string; value: number; target: string; unit: string; ok: boolean }[] = [];
for (const file of files) {
  const { benchmarks } = (await import(pathToFileURL(join(root, file)).href)) as { benchmarks: Benchmark[] };
  for (const benchmark of benchmarks) {
    if (!Object.keys(benchmark.metrics).some((metric) => metric.startsWith(prefix))) continue;
    console.error(`running ${relative(root, file)}: ${Object.keys(benchmark.metrics).join(', ')}`);
    const results = await benchmark.run();
    for (const [metric, spec] of Object.entries(benchmark.metrics)) {
      const value = results[metric];
      if (value === undefined) throw new Error(`${file} did not report ${metric}`);
      const ok = spec.better === 'higher' ? value >= spec.target : value <= spec.target;
      rows.push({
        metric,
        value,
        target: `${spec.better === 'higher' ? '≥' : '≤'} ${spec.target}`,
        unit: spec.unit,
        ok,
      });
    }
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
    result: ok ? 'ok' : 'MISSED',
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
