export {
  CYCLES as TELEMETRY_ATTRIBUTES,
  GEN_AI as GEN_AI_ATTRIBUTES,
  METRICS as TELEMETRY_METRICS,
} from './names.ts';
export { resolveTelemetryOptions, type TelemetryOptions } from './options.ts';
export type { OtelApi } from './otel-api.ts';
export { CyclesTelemetry, TELEMETRY_SCOPE } from './telemetry.ts';
