import { InvalidConfigError } from '../protocol/errors.ts';
import { checkOtelApi, loadOtelApi, type OtelApi } from './otel-api.ts';

/** `CyclesOptions.telemetry`: OpenTelemetry spans and metrics for every guarded call. */
export interface TelemetryOptions {
  /**
   * The `@opentelemetry/api` module (`import * as api from '@opentelemetry/api'`), e.g. when a bundler
   * hides it from `require`.
   * @default loaded from the application's dependencies (an optional peer dependency of core)
   */
  api?: OtelApi;
  /**
   * Scope levels in the `cycles.scope` metric attribute: 1 labels spend by tenant, 2 by tenant and its
   * next level, and so on. Metric series grow with the distinct scopes at this depth: keep it at levels
   * with few values (never per user).
   * @default 1
   */
  scopeLevels?: number;
  /**
   * Most spans kept open for holds that have not settled; past it the oldest ends as `untracked`
   * (a hold that expires unsettled never sends a settlement event).
   * @default 10000
   */
  maxOpenSpans?: number;
  /**
   * Most settled calls waiting for their span, which is written on the next turn of the event loop;
   * past it the oldest is dropped and counted in `cycles.telemetry.dropped_spans`.
   * @default 10000
   */
  maxPendingSpans?: number;
}

export interface ResolvedTelemetryOptions {
  api: OtelApi;
  scopeLevels: number;
  maxOpenSpans: number;
  maxPendingSpans: number;
}

function positiveInteger(field: string, value: number | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new InvalidConfigError(
      `telemetry.${field} must be an integer from 1 to ${max}, got ${String(value)}`,
      {
        details: { field: `telemetry.${field}` },
      },
    );
  }
  return value;
}

/** Validates `telemetry`; undefined when it is off (then `@opentelemetry/api` is never loaded). */
export function resolveTelemetryOptions(
  telemetry: boolean | TelemetryOptions | undefined,
): ResolvedTelemetryOptions | undefined {
  if (telemetry === undefined || telemetry === false) return undefined;
  const options = telemetry === true ? {} : telemetry;
  if (typeof options !== 'object' || options === null) {
    throw new InvalidConfigError('telemetry must be true, false or an options object', {
      details: { field: 'telemetry' },
    });
  }
  const scopeLevels = positiveInteger('scopeLevels', options.scopeLevels, 1, 16);
  const maxOpenSpans = positiveInteger('maxOpenSpans', options.maxOpenSpans, 10_000, 1_000_000);
  const maxPendingSpans = positiveInteger('maxPendingSpans', options.maxPendingSpans, 10_000, 1_000_000);
  const api = options.api === undefined ? loadOtelApi() : checkOtelApi(options.api);
  return { api, scopeLevels, maxOpenSpans, maxPendingSpans };
}
