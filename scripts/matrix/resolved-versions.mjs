// Prints the versions a matrix leg resolved, e.g. `ai 7.0.185, @ai-sdk/amazon-bedrock 5.0.101, …`.
// Usage: node resolved-versions.mjs <repo-copy>
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const WHERE = {
  ai: 'packages/ai-sdk',
  '@ai-sdk/amazon-bedrock': 'packages/ai-sdk',
  '@langchain/core': 'packages/langchain',
  '@langchain/aws': 'packages/langchain',
  langchain: 'packages/langchain',
  '@nestjs/core': 'packages/nestjs',
  '@nestjs/common': 'packages/nestjs',
  express: 'packages/express',
  express4: 'packages/express',
  fastify: 'packages/server',
  '@aws-sdk/client-bedrock-runtime': 'packages/bedrock',
};
const root = process.argv[2] ?? '.';
const found = Object.entries(WHERE).map(([name, dir]) => {
  const file = join(root, dir, 'node_modules', name, 'package.json');
  return `${name} ${existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).version : 'missing'}`;
});
console.log(`node ${process.versions.node}; ${found.join(', ')}`);
