// Sums every package's vitest JSON report into the final CI line `N passed, N failed`.
// A failing typecheck/lint (non-zero pnpm test exit with no failed test) counts as one failure.
// Usage: node ci-summary.mjs <exit-status> [root ...]: each root is a checkout (default `.`); with
// more than one (e.g. the Node 24 matrix leg's copy), each root's own count is printed first.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

function count(root) {
  let passed = 0;
  let failed = 0;
  for (const group of ['packages', 'apps']) {
    const dir = join(root, group);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      const file = join(dir, name, 'test-results.json');
      if (!existsSync(file)) continue;
      const report = JSON.parse(readFileSync(file, 'utf8'));
      passed += report.numPassedTests;
      failed += report.numFailedTests + (report.numRuntimeErrors ?? 0);
      for (const suite of report.testResults ?? []) {
        if (suite.status === 'failed' && suite.assertionResults.length === 0) failed += 1; // a file that failed to load
      }
    }
  }
  return { passed, failed };
}

const exitStatus = Number(process.argv[2] ?? 1);
const roots = process.argv.length > 3 ? process.argv.slice(3) : ['.'];
let passed = 0;
let failed = 0;
for (const root of roots) {
  const one = count(root);
  if (roots.length > 1) console.log(`${root}: ${one.passed} passed, ${one.failed} failed`);
  passed += one.passed;
  failed += one.failed;
}
if (exitStatus !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
process.exit(exitStatus !== 0 || failed > 0 ? 1 : 0);
