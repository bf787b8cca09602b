/** Percentile of a sample (nearest-rank), e.g. percentile(latencies, 0.99). */
export function percentile(samples: number[], fraction: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = Float64Array.from(samples).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[rank] as number;
}

export function median(samples: number[]): number {
  return percentile(samples, 0.5);
}

/** Current time in microseconds, high resolution. */
export function nowMicros(): number {
  return Number(process.hrtime.bigint()) / 1000;
}

/** Timings of one guarded-vs-plain comparison: per-call samples and the added time per call. */
export interface GuardOverhead {
  plainP50: number;
  guardedP50: number;
  /** Median of the per-pair differences (guarded − plain): steadier than the difference of medians on a loaded machine. */
  overheadP50: number;
  /** The same median over the warm-up pairs: what the first calls of a fresh process add. */
  warmupOverheadP50: number;
}

/**
 * Times `plain` and `guarded` calls interleaved, alternating which goes first, so drift, GC and socket
 * reuse hit both sides alike. The figures come from the pairs after `warmup` pairs: V8 keeps
 * re-optimising both paths through the first few thousand calls (the added time falls by half, then
 * holds), and a service runs at that steady state for all but its first seconds. `afterPair` runs
 * between pairs (e.g. to drop the emulator's recorded requests).
 */
export async function measureGuardOverhead(
  plain: () => Promise<unknown>,
  guarded: () => Promise<unknown>,
  options: { warmup: number; runs: number; afterPair?: () => void },
): Promise<GuardOverhead> {
  const timed = async (call: () => Promise<unknown>) => {
    const started = nowMicros();
    await call();
    return nowMicros() - started;
  };
  const plainTimes: number[] = [];
  const guardedTimes: number[] = [];
  for (let i = 0; i < options.warmup + options.runs; i++) {
    if (i % 2 === 0) {
      plainTimes.push(await timed(plain));
      guardedTimes.push(await timed(guarded));
    } else {
      guardedTimes.push(await timed(guarded));
      plainTimes.push(await timed(plain));
    }
    options.afterPair?.();
  }
  const differences = guardedTimes.map((time, index) => time - (plainTimes[index] ?? time));
  const firstMeasured = options.warmup;
  return {
    plainP50: median(plainTimes.slice(firstMeasured)),
    guardedP50: median(guardedTimes.slice(firstMeasured)),
    overheadP50: median(differences.slice(firstMeasured)),
    warmupOverheadP50: median(differences.slice(0, firstMeasured)),
  };
}
