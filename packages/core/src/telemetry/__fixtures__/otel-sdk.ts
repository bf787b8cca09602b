import * as api from '@opentelemetry/api';
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  type Sampler,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { OtelApi } from '../otel-api.ts';

/** A turn of the event loop: telemetry writes a settled call's span and timings on the next one. */
export const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * The real OTel SDK with in-memory exporters, handed to telemetry as its `api` (no global state).
 * Spans are exported as each ends (SimpleSpanProcessor); a read waits one turn of the event loop first,
 * for the spans and timings of the calls settled in this one.
 */
export function otelSdk(sampler?: Sampler) {
  const spanExporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(spanExporter)],
    ...(sampler === undefined ? {} : { sampler }),
  });
  const reader = new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
    exportIntervalMillis: 3_600_000,
  });
  const meterProvider = new MeterProvider({ readers: [reader] });
  const otel: OtelApi = { trace: tracerProvider, metrics: meterProvider, context: api.context };

  /** Data points of one metric, by instrument name. */
  async function points(name: string): Promise<DataPoint<number | Histogram>[]> {
    await nextTurn();
    const { resourceMetrics } = await reader.collect();
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        if (metric.descriptor.name === name) return metric.dataPoints as DataPoint<number | Histogram>[];
      }
    }
    return [];
  }

  /** The sum of a counter's points whose attributes include `where`. */
  async function sum(name: string, where: Record<string, unknown> = {}): Promise<number> {
    let total = 0;
    for (const point of await points(name)) {
      const matches = Object.entries(where).every(([key, value]) => point.attributes[key] === value);
      if (matches) total += typeof point.value === 'number' ? point.value : (point.value.sum ?? 0);
    }
    return total;
  }

  /** How many values a histogram recorded for points whose attributes include `where`. */
  async function count(name: string, where: Record<string, unknown> = {}): Promise<number> {
    let total = 0;
    for (const point of await points(name)) {
      const matches = Object.entries(where).every(([key, value]) => point.attributes[key] === value);
      if (matches && typeof point.value !== 'number') total += point.value.count;
    }
    return total;
  }

  const spans = async (): Promise<ReadableSpan[]> => {
    await nextTurn();
    return spanExporter.getFinishedSpans();
  };
  /** Spans exported so far, read at once (no turn). */
  const exported = (): number => spanExporter.getFinishedSpans().length;
  return {
    otel,
    spans,
    exported,
    points,
    sum,
    count,
    shutdown: () => Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]),
  };
}
