// Publish-readiness of every public package, on its built `dist`: publint (no errors, warnings or
// suggestions) and are-the-types-wrong on the packed tarball (node10, node16 from CJS and ESM,
// bundler: all green). Build first (`pnpm build`). Exits 1 on any finding.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const bin = (name) => join('node_modules', '.bin', name);
let failures = 0;
for (const name of readdirSync('packages')) {
  const dir = join('packages', name);
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (manifest.private) continue;
  for (const [tool, args] of [
    ['publint', ['--strict', dir]],
    ['attw', ['--pack', dir, '--format', 'table-flipped']],
  ]) {
    try {
      const output = execFileSync(bin(tool), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      // publint exits 0 on suggestions; `--strict` turns warnings into errors, so read its text too.
      if (tool === 'publint' && !/All good!/.test(output))
        throw Object.assign(new Error(), { stdout: output });
      console.log(`${manifest.name}: ${tool} ok`);
    } catch (error) {
      failures += 1;
      console.log(`${manifest.name}: ${tool} found problems\n${error.stdout ?? ''}${error.stderr ?? ''}`);
    }
  }
}
console.log(failures === 0 ? 'packages: publish-ready' : `packages: ${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
