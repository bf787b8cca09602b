// Rewrites a copy of the workspace to what a user installs today on Node 24: the current major of each
// framework (fresh resolve, no lockfile) and none of the overrides that keep Node 20 installs quiet.
// Usage: node current-majors.mjs <copy-of-the-repo>
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The ranges the Node 24 leg tests: each framework's current major (latest release within it). */
export const CURRENT_MAJORS = {
  ai: '^7.0.0',
  '@ai-sdk/amazon-bedrock': '^5.0.0',
  '@ai-sdk/provider': '^4.0.0',
  '@langchain/core': '^1.4.0',
  '@langchain/aws': '^1.4.5',
  '@langchain/langgraph': '^1.7.3',
  langchain: '^1.5.14',
  '@nestjs/common': '^12.0.0',
  '@nestjs/core': '^12.0.0',
  '@nestjs/platform-express': '^12.0.0',
  '@nestjs/platform-fastify': '^12.0.0',
  '@nestjs/testing': '^12.0.0',
  express: '^5.0.0',
  express4: 'npm:express@^4.21.0',
  fastify: '^5.0.0',
  '@aws-sdk/client-bedrock-runtime': '^3.1163.0',
  '@types/node': '^24.0.0',
};

const root = process.argv[2];
if (root === undefined) throw new Error('usage: node current-majors.mjs <copy-of-the-repo>');

const manifests = [join(root, 'package.json')];
for (const group of ['packages', 'apps']) {
  for (const name of readdirSync(join(root, group))) manifests.push(join(root, group, name, 'package.json'));
}
for (const file of manifests) {
  if (existsSync(file)) {
    const manifest = JSON.parse(readFileSync(file, 'utf8'));
    for (const field of ['dependencies', 'devDependencies']) {
      for (const dependency of Object.keys(manifest[field] ?? {})) {
        const range = CURRENT_MAJORS[dependency];
        if (range !== undefined) manifest[field][dependency] = range;
      }
    }
    writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
  }
}

// No overrides (they hide engine warnings a user would see) and no lockfile (resolve what is current).
const workspace = join(root, 'pnpm-workspace.yaml');
const lines = readFileSync(workspace, 'utf8').split('\n');
const kept = [];
let inOverrides = false;
for (const line of lines) {
  if (/^overrides:/.test(line)) inOverrides = true;
  else if (inOverrides && !/^\s/.test(line)) inOverrides = false;
  if (!inOverrides) kept.push(line);
}
writeFileSync(workspace, kept.join('\n'));
rmSync(join(root, 'pnpm-lock.yaml'), { force: true });
