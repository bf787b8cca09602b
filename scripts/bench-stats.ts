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
