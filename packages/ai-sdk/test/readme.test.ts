import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { quickStartImportsNotInstalled, readmeBlock, typeErrors } from '../../../scripts/readme-typecheck.ts';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

describe('README', () => {
  it('quick start compiles under a strictest tsconfig', () => {
    expect(typeErrors(packageDir, readmeBlock(`${packageDir}/README.md`, '## Quick start'))).toEqual([]);
  });

  it('installs every package the quick start imports', () => {
    expect(quickStartImportsNotInstalled(`${packageDir}/README.md`)).toEqual([]);
  });
});
