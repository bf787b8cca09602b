import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidConfigError } from '../protocol/errors.ts';

// The part of `@opentelemetry/api` core uses, typed structurally: core never imports the package's
// types, so its declarations do not need it installed (it is an optional peer dependency).

export type OtelAttributeValue = string | number | boolean | string[];
export type OtelAttributes = Record<string, OtelAttributeValue | undefined>;

export interface OtelSpan {
  /** False for a span the sampler dropped, or with no SDK: then nothing is built for it. */
  isRecording(): boolean;
  setAttribute(key: string, value: OtelAttributeValue): unknown;
  updateName(name: string): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  end(endTime?: number): void;
}

export interface OtelTracer {
  startSpan(
    name: string,
    options?: { kind?: number; attributes?: OtelAttributes; startTime?: number },
    context?: unknown,
  ): OtelSpan;
}

export interface OtelCounter {
  add(value: number, attributes?: OtelAttributes): void;
}

export interface OtelHistogram {
  record(value: number, attributes?: OtelAttributes): void;
}

/** An observable instrument: its callback reports the current values at collection time. */
export interface OtelObservable {
  addCallback(
    callback: (result: { observe(value: number, attributes?: OtelAttributes): void }) => void,
  ): void;
}

export interface OtelMeter {
  createCounter(name: string, options?: { description?: string; unit?: string }): OtelCounter;
  createUpDownCounter(name: string, options?: { description?: string; unit?: string }): OtelCounter;
  createObservableGauge(name: string, options?: { description?: string; unit?: string }): OtelObservable;
  createObservableCounter(name: string, options?: { description?: string; unit?: string }): OtelObservable;
  createHistogram(
    name: string,
    options?: { description?: string; unit?: string; advice?: { explicitBucketBoundaries?: number[] } },
  ): OtelHistogram;
}

/** `import * as api from '@opentelemetry/api'`, as far as core needs it. */
export interface OtelApi {
  trace: { getTracer(name: string, version?: string): OtelTracer };
  metrics: { getMeter(name: string, version?: string): OtelMeter };
  context: { active(): unknown };
}

/** The package telemetry loads when the application did not pass its own copy. */
export const OTEL_API_PACKAGE = '@opentelemetry/api';

/** `SpanStatusCode.ERROR` and `SpanKind.INTERNAL` of the API (stable numbers, so no import is needed). */
export const SPAN_STATUS_ERROR = 2;
export const SPAN_KIND_INTERNAL = 0;

function isOtelApi(value: unknown): value is OtelApi {
  const api = value as Partial<OtelApi> | undefined;
  return (
    typeof api?.trace?.getTracer === 'function' &&
    typeof api.metrics?.getMeter === 'function' &&
    typeof api.context?.active === 'function'
  );
}

/** Checks a module passed as `telemetry.api`. */
export function checkOtelApi(value: unknown): OtelApi {
  if (isOtelApi(value)) return value;
  throw new InvalidConfigError(
    "telemetry.api is not the @opentelemetry/api module: pass `import * as api from '@opentelemetry/api'`",
    { details: { field: 'telemetry.api' } },
  );
}

/**
 * Loads `@opentelemetry/api` synchronously (a Cycles instance is created synchronously), from core's
 * own location, then from the application's. Called only when telemetry is on: otherwise nothing loads.
 */
export function loadOtelApi(): OtelApi {
  const bases: string[] = [];
  try {
    bases.push(fileURLToPath(import.meta.url));
  } catch {
    // CommonJS build: import.meta is empty there, but __filename names this file.
    if (typeof __filename === 'string') bases.push(__filename);
  }
  bases.push(join(process.cwd(), 'package.json'));
  let cause: unknown;
  for (const base of bases) {
    try {
      return checkOtelApi(createRequire(base)(OTEL_API_PACKAGE));
    } catch (error) {
      cause = error;
    }
  }
  throw new InvalidConfigError(
    `telemetry is on but ${OTEL_API_PACKAGE} could not be loaded: install it (pnpm add ${OTEL_API_PACKAGE}) ` +
      'or pass telemetry: { api } yourself, or turn telemetry off',
    { details: { field: 'telemetry' }, cause },
  );
}
