import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { quickStartImportsNotInstalled, readmeBlock, typeErrors } from '../../../scripts/readme-typecheck.ts';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

describe('README', () => {
  // A user's tsconfig may set exactOptionalPropertyTypes: the quick start's subject callback returns
  // `{ tenant: string | undefined }`, which Subject accepts (an undefined level counts as absent).
  it('quick start compiles under a strictest tsconfig', () => {
    expect(typeErrors(packageDir, readmeBlock(`${packageDir}/README.md`, '## Quick start'))).toEqual([]);
  });

  it("root README's Express block compiles under a strictest tsconfig", () => {
    const heading = [
      '**Express** ([`@cycles-guard/express`](packages/express)): a budget context per request; the plugin',
      "above picks up the request's tenant, and denials become 429 responses.",
    ].join('\n');
    const text = readFileSync(`${packageDir}/../../README.md`, 'utf8');
    const block = /```ts\n([\s\S]*?)^```$/m.exec(text.slice(text.indexOf(heading)))?.[1] ?? '';
    const prelude = [
      "import { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';",
      "import { createCycles } from '@cycles-guard/core';",
      "const client = new BedrockRuntimeClient({ region: 'us-east-1' });",
    ].join('\n');
    expect(block).toContain('cyclesMiddleware');
    expect(
      typeErrors(packageDir, block.replace('/* ... */', "{ modelId: 'm', messages: [] }"), { prelude }),
    ).toEqual([]);
  });

  it('installs every package the quick start imports', () => {
    expect(quickStartImportsNotInstalled(`${packageDir}/README.md`)).toEqual([]);
  });
});
