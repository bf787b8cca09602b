import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { quickStartImportsNotInstalled, readmeBlock, typeErrors } from '../../../scripts/readme-typecheck.ts';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const nest = { compilerOptions: { experimentalDecorators: true } };

describe('README', () => {
  it('quick start compiles under a strictest tsconfig', () => {
    const quickStart = readmeBlock(`${packageDir}/README.md`, '## Quick start');
    expect(typeErrors(packageDir, quickStart, nest)).toEqual([]);
  });

  // The root README's fragment once typed the request as `{ user }` alone: not a CyclesHttpRequest, TS2322.
  it("root README's NestJS block compiles", () => {
    const block = readmeBlock(
      `${packageDir}/../../README.md`,
      '**NestJS** ([`@cycles-guard/nestjs`](packages/nestjs)): a global interceptor and exception filter.',
    );
    const prelude = [
      "import { createCycles } from '@cycles-guard/core';",
      "import { Controller, Module } from '@nestjs/common';",
      'const cycles = createCycles({});',
    ].join('\n');
    expect(typeErrors(packageDir, block, { ...nest, prelude })).toEqual([]);
  });

  it('installs every package the quick start imports', () => {
    expect(quickStartImportsNotInstalled(`${packageDir}/README.md`)).toEqual([]);
  });
});
