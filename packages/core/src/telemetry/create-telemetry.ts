import { resolveTelemetryOptions, type TelemetryOptions } from './options.ts';
import { CyclesTelemetry } from './telemetry.ts';

/** The instance's telemetry, or undefined when it is off (nothing is loaded, nothing is wrapped). */
export function createTelemetry(
  options: boolean | TelemetryOptions | undefined,
): CyclesTelemetry | undefined {
  const resolved = resolveTelemetryOptions(options);
  return resolved === undefined ? undefined : new CyclesTelemetry(resolved);
}
