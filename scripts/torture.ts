// `pnpm torture [name-filter] [--seed N] [--quick]`: runs every adversary module in scripts/torture/
// (each exports `default { name, run({ seed, log }) }`) with one seed, prints its figures and exits
// non-zero when a count that must be 0 is not. See scripts/torture/README.md.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MUST_BE_ZERO, type TortureModule } from './torture/lib/figures.ts';

interface Arguments {
  seed: number;
  quick: boolean;
  filter: string[];
  json: string | undefined;
}

function parseArguments(argv: string[]): Arguments {
  const parsed: Arguments = {
    seed: Math.floor(Math.random() * 2 ** 31),
    quick: false,
    filter: [],
    json: undefined,
  };
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index] as string;
    if (argument === '--quick') parsed.quick = true;
    else if (argument === '--seed' || argument === '--json') {
      index += 1;
      const value = argv[index];
      if (value === undefined) throw new Error(`${argument} needs a value`);
      if (argument === '--json') parsed.json = value;
      else if (!/^\d+$/.test(value)) throw new Error(`--seed must be a non-negative integer, got ${value}`);
      else parsed.seed = Number(value);
    } else if (argument.startsWith('--')) throw new Error(`unknown option ${argument}`);
    else parsed.filter.push(argument);
  }
  return parsed;
}

const args = parseArguments(process.argv.slice(2));
// Modules read the mode from the environment so their `run({ seed, log })` signature stays the same.
if (args.quick) process.env.TORTURE_QUICK = '1';
const directory = join(fileURLToPath(new URL('.', import.meta.url)), 'torture');
const files = readdirSync(directory)
  .filter((file) => file.endsWith('.ts'))
  .sort();

const must = new Set<string>(MUST_BE_ZERO);
const report: Record<string, Record<string, number | string>> = {};
let broken = 0;
const replayCommand = [
  'pnpm torture',
  ...args.filter.map((name) => JSON.stringify(name)),
  '--seed',
  String(args.seed),
];
if (args.quick) replayCommand.push('--quick');
console.log(
  `torture: seed ${args.seed}${args.quick ? ' (quick)' : ''}; replay with ${replayCommand.join(' ')}`,
);
for (const file of files) {
  const started = performance.now();
  let module: TortureModule;
  let figures: Record<string, number | string>;
  try {
    module = ((await import(pathToFileURL(join(directory, file)).href)) as { default: TortureModule })
      .default;
    if (args.filter.length > 0 && !args.filter.some((name) => module.name.startsWith(name))) continue;
    console.log(`\n== ${module.name}`);
    figures = await module.run({ seed: args.seed, log: (line) => console.log(line) });
  } catch (error) {
    // A module that cannot load or run is a failure of its own, never a silent skip.
    console.log(
      `\n== ${file}: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    report[file] = { failed: String(error) };
    broken += 1;
    continue;
  }
  figures.seconds = Math.round((performance.now() - started) / 100) / 10;
  report[module.name] = figures;
  const width = Math.max(...Object.keys(figures).map((name) => name.length));
  for (const name of ['runs', 'operations', 'distinct bad inputs', ...MUST_BE_ZERO]) {
    if (name in figures)
      console.log(`  ${name.padEnd(width)}  ${figures[name]}${must.has(name) ? ' (must be 0)' : ''}`);
  }
  for (const [name, value] of Object.entries(figures)) {
    if (!['runs', 'operations', 'distinct bad inputs'].includes(name) && !must.has(name)) {
      console.log(`  ${name.padEnd(width)}  ${value}`);
    }
  }
  for (const name of MUST_BE_ZERO) {
    const value = figures[name];
    if (value !== undefined && value !== 0) broken += 1;
  }
}
if (args.json !== undefined) {
  const { writeFileSync } = await import('node:fs');
  writeFileSync(args.json, JSON.stringify({ seed: args.seed, quick: args.quick, modules: report }, null, 2));
}
console.log(
  `\ntorture: ${broken === 0 ? 'every must-be-0 count is 0' : `${broken} must-be-0 count(s) not 0 or module(s) failed`} (seed ${args.seed})`,
);
process.exit(broken === 0 ? 0 : 1);
