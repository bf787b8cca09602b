import type { RecordedRequest } from '@cycles-guard/bedrock-emulator';
import { type ModelPrice, usageCost } from '@cycles-guard/core/llm';
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

/**
 * {@link projectUnguarded} from what the emulator answered: the calls that got the `maxTokens` they asked
 * for (all answered calls when every one was capped), priced at `price`.
 */
export function projectFromEmulator(
  requests: readonly RecordedRequest[],
  price: ModelPrice,
  requestedMaxTokens: number,
  workers: number,
  durationMs: number,
): Projection {
  const answered = requests.filter((request) => request.status === 200);
  const uncapped = answered.filter((request) => request.maxTokens === requestedMaxTokens);
  const basis = uncapped.length > 0 ? uncapped : answered;
  return projectUnguarded(
    basis.map((request) => ({
      costMicrocents: usageCost(request, price),
      durationMs: (request.completedAt?.getTime() ?? 0) - request.startedAt.getTime(),
      outputTokens: request.outputTokens,
    })),
    workers,
    durationMs,
  );
}
