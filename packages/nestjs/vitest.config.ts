import { defineConfig } from 'vitest/config';
import { projectDefaults } from '../../vitest.shared.ts';

export default defineConfig(
  projectDefaults('nestjs', {
    // Generous waits: CI and shared machines run many suites at once; polls still return as soon as they pass.
    testTimeout: 30_000,
    expect: { poll: { timeout: 10_000 } },
  }),
);
