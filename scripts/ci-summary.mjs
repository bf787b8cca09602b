// Sums every package's vitest JSON report into the final CI line `N passed, N failed`.
// A failing typecheck/lint (non-zero pnpm test exit with no failed test) counts as one failure.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const exitStatus = Number(process.argv[2] ?? 1);
let passed = 0;
let failed = 0;
for (const root of ['packages', 'apps']) {
  if (!existsSync(root)) continue;
  for (const name of readdirSync(root)) {
    const file = join(root, name, 'test-results.json');
    if (!existsSync(file)) continue;
    const report = JSON.parse(readFileSync(file, 'utf8'));
    passed += report.numPassedTests;
    failed += report.numFailedTests + (report.numRuntimeErrors ?? 0);
    for (const suite of report.testResults ?? []) {
      if (suite.status === 'failed' && suite.assertionResults.length === 0) failed += 1; // a file that failed to load
    }
  }
}
if (exitStatus !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
process.exit(exitStatus !== 0 || failed > 0 ? 1 : 0);
