import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', 'prices-cli': 'src/prices/prices-cli.ts' },
  format: ['esm', 'cjs'],
  dts: { compilerOptions: { ignoreDeprecations: '6.0' } },
  sourcemap: true,
  clean: true,
  external: ['vitest', 'fast-check'],
});
