import { defineConfig } from 'vitest/config';
import { projectDefaults } from '../../vitest.shared.ts';

// Agent runs make many emulator round trips; on a loaded CI machine they can pass the 5 s default.
export default defineConfig(projectDefaults('langchain-example', { testTimeout: 30_000 }));
