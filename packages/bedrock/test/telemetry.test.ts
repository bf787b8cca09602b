import { ConverseCommand, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { type BedrockEmulator, startBedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { createCycles, createMemoryLedger } from '@cycles-guard/core';
import { GEN_AI_ATTRIBUTES, TELEMETRY_ATTRIBUTES, TELEMETRY_METRICS } from '@cycles-guard/core/llm';
import * as api from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { cyclesBedrockPlugin } from '../src/index.ts';
import { SCOPE, sdkClient } from './helpers.ts';

// End to end: the real SDK client with the plugin, against the emulator, with core's telemetry on
// and the OTel SDK's in-memory exporters: the adapter gets its spans and metrics from core.

const HAIKU = 'anthropic.claude-3-5-haiku-20241022-v1:0';
const messages = [{ role: 'user' as const, content: [{ text: 'Tell me about budgets and guards.' }] }];
let emulator: BedrockEmulator | undefined;
afterEach(async () => {
  await emulator?.close();
});

async function setup() {
  emulator = await startBedrockEmulator({ port: 0 });
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  const reader = new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
    exportIntervalMillis: 3_600_000,
  });
  const ledger = createMemoryLedger({
    sweepIntervalMs: 0,
    ledgers: [{ scope: SCOPE, unit: 'USD_MICROCENTS', allocated: 100_000_000 }],
  });
  const cycles = createCycles({
    authority: ledger,
    subject: { tenant: 'acme' },
    telemetry: {
      api: { trace: tracerProvider, metrics: new MeterProvider({ readers: [reader] }), context: api.context },
    },
  });
  const client = sdkClient(emulator.url);
  client.middlewareStack.use(cyclesBedrockPlugin({ cycles }));
  const spend = async () => {
    const { resourceMetrics } = await reader.collect();
    const metric = resourceMetrics.scopeMetrics
      .flatMap((scope) => scope.metrics)
      .find((candidate) => candidate.descriptor.name === TELEMETRY_METRICS.spend);
    return (metric?.dataPoints ?? []).reduce((sum, point) => sum + (point.value as number), 0);
  };
  return { client, ledger, spans, spend };
}

describe('bedrock plugin with telemetry on', () => {
  it('one span per Converse and ConverseStream call with usage and budget outcome; spend metric = ledger', async () => {
    const { client, ledger, spans, spend } = await setup();
    const answer = await client.send(
      new ConverseCommand({ modelId: HAIKU, messages, inferenceConfig: { maxTokens: 300 } }),
    );
    const stream = await client.send(
      new ConverseStreamCommand({ modelId: HAIKU, messages, inferenceConfig: { maxTokens: 200 } }),
    );
    let streamed: { inputTokens?: number; outputTokens?: number } | undefined;
    for await (const event of stream.stream ?? []) if (event.metadata?.usage) streamed = event.metadata.usage;
    await new Promise((resolve) => setImmediate(resolve));
    const finished = spans.getFinishedSpans();
    expect(finished).toHaveLength(2);
    const [first, second] = finished;
    expect(first?.attributes).toMatchObject({
      [GEN_AI_ATTRIBUTES.requestModel]: HAIKU,
      [GEN_AI_ATTRIBUTES.requestMaxTokens]: 300,
      [GEN_AI_ATTRIBUTES.outputTokens]: answer.usage?.outputTokens,
      [TELEMETRY_ATTRIBUTES.decision]: 'ALLOW',
      [TELEMETRY_ATTRIBUTES.settlement]: 'committed',
      [TELEMETRY_ATTRIBUTES.scopes]: [SCOPE],
    });
    expect(second?.attributes).toMatchObject({
      [GEN_AI_ATTRIBUTES.requestMaxTokens]: 200,
      [GEN_AI_ATTRIBUTES.outputTokens]: streamed?.outputTokens,
      [TELEMETRY_ATTRIBUTES.settlement]: 'committed',
    });
    const spent = (await ledger.getLedger(SCOPE, 'USD_MICROCENTS'))?.spent;
    expect(spent).toBeGreaterThan(0);
    expect(await spend()).toBe(spent);
    // `cycles.charged` is set only when the charge differs from `cycles.actual`.
    const charged = (span: (typeof finished)[number]) =>
      Number(span.attributes[TELEMETRY_ATTRIBUTES.charged] ?? span.attributes[TELEMETRY_ATTRIBUTES.actual]);
    expect(finished.reduce((sum, span) => sum + charged(span), 0)).toBe(spent);
  });
});
