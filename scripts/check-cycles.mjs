// Fails on any import cycle among the shipped source files of the package it runs in (its `src/`, tests
// excluded), type-only imports included: a cycle of types still ties the modules' meaning together.
// Run by each package's `lint` script, so `pnpm test` (turbo typecheck lint test) fails on a new cycle.
import path from 'node:path';
import { globFiles, parseCircular, parseDependencyTree, prettyCircular } from 'dpdm';

const packageDir = process.cwd();
const sourceDir = `${path.join(packageDir, 'src')}${path.sep}`;
const isTest = /\.test\.ts$|\.property\.ts$|[\\/]__fixtures__[\\/]/;

const entries = (await globFiles('src/**/*.{ts,tsx}', packageDir)).filter((file) => !isTest.test(file));
const tree = await parseDependencyTree(entries, {
  cwd: packageDir,
  // Only this package's own shipped files: another package's source is checked where it lives.
  include: new RegExp(`^${sourceDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
  exclude: new RegExp(`node_modules|${isTest.source}`),
});
const cycles = parseCircular(tree);
const name = path.basename(packageDir);
if (cycles.length > 0) {
  console.error(
    `${name}: ${cycles.length} import cycle(s) in src/ (break each with a type-only module or by moving code to where it belongs):`,
  );
  console.error(prettyCircular(cycles, '  '));
  process.exit(1);
}
console.log(`${name}: no import cycles in ${entries.length} source files`);
