import type { ViteUserConfig } from 'vitest/config';

/** Settings every package's vitest config shares: source-first resolution and a JSON report for CI. */
export function projectDefaults(
  name: string,
  overrides: NonNullable<ViteUserConfig['test']> = {},
): ViteUserConfig {
  return {
    resolve: { conditions: ['@cycles-guard/source'] },
    ssr: { resolve: { conditions: ['@cycles-guard/source'] } },
    test: {
      name,
      restoreMocks: true,
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      reporters: ['default', ['json', { outputFile: 'test-results.json' }]],
      ...overrides,
    },
  };
}
