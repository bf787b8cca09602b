import type { DemoResult } from './scenario.ts';

/** One call the guarded loop made without being capped: what an unguarded loop makes every time. */
export interface UncappedCall {
  costMicrocents: number;
  durationMs: number;
  outputTokens: number;
}

type Projection = Pick<
  DemoResult,
  | 'unguardedMicrocents'
  | 'unguardedCalls'
  | 'projectionMs'
  | 'averageUncappedCostMicrocents'
  | 'unguardedPerHourAtRealSpeedMicrocents'
  | 'averageUncappedCallMs'
>;

const average = (values: number[]) =>
  values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);

/**
 * What the same loop would cost unguarded: every worker making uncapped calls back to back until the
 * loop's deadline, each at the average of this run's uncapped calls. The per-hour figure is an estimate
 * at real Bedrock speed (0.5 s to first token, 60 output tokens/s).
 */
export function projectUnguarded(calls: UncappedCall[], workers: number, durationMs: number): Projection {
  const averageUncappedCostMicrocents = Math.round(average(calls.map((call) => call.costMicrocents)));
  const averageUncappedCallMs = average(calls.map((call) => call.durationMs));
  const realCallSeconds = 0.5 + average(calls.map((call) => call.outputTokens)) / 60;
  const unguardedCalls = Math.floor((workers * durationMs) / Math.max(1, averageUncappedCallMs));
  return {
    unguardedMicrocents: unguardedCalls * averageUncappedCostMicrocents,
    unguardedCalls,
    projectionMs: durationMs,
    averageUncappedCostMicrocents,
    unguardedPerHourAtRealSpeedMicrocents: Math.round(
      ((workers * 3_600) / realCallSeconds) * averageUncappedCostMicrocents,
    ),
    averageUncappedCallMs: Math.round(averageUncappedCallMs),
  };
}
