import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
      // Suites start real servers (emulator, Redis, HTTP apps) on 2-core CI machines shared by turbo's
      // parallel tasks: generous limits keep a slow machine from failing a correct test.
      testTimeout: 30_000,
      hookTimeout: 60_000,
      expect: { poll: { timeout: 10_000 } },
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      // Settlement outbox journals of test authorities (HTTP, Redis) stay out of the home folder.
      env: { CYCLES_OUTBOX_DIR: join(tmpdir(), 'cycles-guard-test-outbox') },
      reporters: ['default', ['json', { outputFile: 'test-results.json' }]],
      ...overrides,
    },
  };
}
