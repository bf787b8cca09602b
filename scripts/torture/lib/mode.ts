/** True under `pnpm torture --quick` (the runner sets TORTURE_QUICK). */
export function quick(): boolean {
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: set by scripts/torture.ts, not a turbo task input
  return process.env.TORTURE_QUICK === '1';
}
