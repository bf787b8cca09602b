// What a torture module reports, and which of its figures must be 0.

/** The shape every `scripts/torture/*.ts` module exports as default. */
export interface TortureModule {
  name: string;
  run(options: { seed: number; log: (line: string) => void }): Promise<Record<string, number | string>>;
}

/**
 * Counts that must be 0 after any campaign: the runner exits non-zero when one is not. The first five
 * are the issue's promise; the rest are the ways a replay, a refusal or an answer can break it.
 */
export const MUST_BE_ZERO = [
  'overspend',
  'lost charges',
  'double charges',
  'leaked holds',
  '5xx answers',
  'broken replays',
  'merged keys',
  'untyped errors',
  'wrong error codes',
  'accepted bad inputs',
  'refusals that changed state',
  'model mismatches',
  'echoed request data',
] as const;

export type Incident = (typeof MUST_BE_ZERO)[number];

/** Printed incidents per kind; the rest are only counted. */
// biome-ignore lint/suspicious/noUndeclaredEnvVars: a local debugging knob of `pnpm torture`, not a turbo task input
const PRINTED_PER_KIND = Number(process.env.TORTURE_PRINT ?? 5);

/** Figures of one module: counters, must-be-zero incidents (the first few printed) and the bad inputs tried. */
export class Tally {
  readonly counts = new Map<string, number>();
  readonly badInputs = new Set<string>();
  private readonly printed = new Map<string, number>();

  constructor(private readonly log: (line: string) => void) {
    for (const name of MUST_BE_ZERO) this.counts.set(name, 0);
  }

  add(name: string, amount = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + amount);
  }

  /** Counts a broken promise and prints it (with the replay coordinates in `where`). */
  incident(kind: Incident, where: string, detail: string): void {
    this.add(kind);
    const printed = this.printed.get(kind) ?? 0;
    this.printed.set(kind, printed + 1);
    if (printed < PRINTED_PER_KIND) this.log(`  ✗ ${kind}: ${where}: ${detail}`);
    else if (printed === PRINTED_PER_KIND) this.log(`  ✗ ${kind}: more of these are counted, not printed`);
  }

  figures(): Record<string, number | string> {
    return { 'distinct bad inputs': this.badInputs.size, ...Object.fromEntries(this.counts) };
  }
}

/** Sums the numeric figures of several tallies' outputs (e.g. a parent and its worker processes). */
export function mergeFigures(
  target: Record<string, number | string>,
  extra: Record<string, number | string>,
): Record<string, number | string> {
  for (const [name, value] of Object.entries(extra)) {
    const current = target[name];
    target[name] = typeof value === 'number' && typeof current === 'number' ? current + value : value;
  }
  return target;
}
