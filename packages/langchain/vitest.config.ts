import { defineConfig } from 'vitest/config';
import { projectDefaults } from '../../vitest.shared.ts';

// Agent and batch tests make many emulator round trips; on a loaded CI machine they can pass 5 s.
export default defineConfig(projectDefaults('langchain', { testTimeout: 30_000 }));
