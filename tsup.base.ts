// The build every package shares: ESM and CommonJS with their types, from explicit entries. A package's
// tsup.config.ts names its entries and only what differs.
import { defineConfig } from 'tsup';

export interface PackageBuild {
  /** Output name (under dist/) → source file. */
  entry: Record<string, string>;
  /** The entries that get type declarations, when not all do (a CLI needs none). Default: all. */
  typedEntry?: Record<string, string>;
  /** Imports left to the consumer, e.g. the conformance suite's vitest and fast-check. */
  external?: string[];
}

export function packageBuild({ entry, typedEntry, external }: PackageBuild) {
  return defineConfig({
    entry,
    format: ['esm', 'cjs'],
    dts: { ...(typedEntry && { entry: typedEntry }), compilerOptions: { ignoreDeprecations: '6.0' } },
    // No source maps: dist is not minified, so a stack trace into it reads as is, and maps would point
    // at src/ files the package does not ship (or carry them: 1.4 MB of core's 2.3 MB tarball).
    sourcemap: false,
    clean: true,
    ...(external && { external }),
  });
}
