import { defineConfig } from 'vitest/config';
import { projectDefaults } from '../../vitest.shared.ts';

export default defineConfig(projectDefaults('example-chat'));
