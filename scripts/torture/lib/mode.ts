/** True under `pnpm torture --quick` (the runner sets TORTURE_QUICK). */
export function quick(): boolean {
  return process.env.TORTURE_QUICK === '1';
}
