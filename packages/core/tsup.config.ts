import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'ledger-kit/index': 'src/ledger-kit/index.ts',
    'llm/index': 'src/llm/index.ts',
    'protocol/index': 'src/protocol/index.ts',
    'reports/index': 'src/reports/index.ts',
    'testing/index': 'src/testing/index.ts',
    'webhooks/index': 'src/webhooks/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: { compilerOptions: { ignoreDeprecations: '6.0' } },
  // No source maps: dist is not minified, so a stack trace into it reads as is, and maps would point
  // at src/ files the package does not ship (or carry them: 1.4 MB of core's 2.3 MB tarball).
  sourcemap: false,
  clean: true,
  external: ['vitest', 'fast-check'],
});
