import {
  BedrockRuntimeClient,
  ConverseCommand,
  InvokeModelWithResponseStreamCommand,
} from '@aws-sdk/client-bedrock-runtime';
import { startBedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { type CyclesOptions, createCycles, createMemoryLedger } from '@cycles-guard/core';
import { TELEMETRY_METRICS } from '@cycles-guard/core/llm';
import * as api from '@opentelemetry/api';
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { Benchmark } from '../../../scripts/bench.ts';
import { measureGuardOverhead, median } from '../../../scripts/bench-stats.ts';
import { cyclesBedrockPlugin } from '../src/index.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const MODEL = 'anthropic.claude-3-5-haiku-20241022-v1:0';

function client(url: string): BedrockRuntimeClient {
  return new BedrockRuntimeClient({
    region: 'us-east-1',
    endpoint: url,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' },
    requestHandler: new NodeHttpHandler(),
    maxAttempts: 1,
  });
}

function benchCycles(telemetry?: CyclesOptions['telemetry']) {
  const ledger = createMemoryLedger({
    sweepIntervalMs: 0,
    ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: 1e15 }],
  });
  return createCycles({
    authority: ledger,
    subject: { tenant: 'acme' },
    ...(telemetry === undefined ? {} : { telemetry }),
  });
}

const overhead: Benchmark = {
  metrics: {
    'bedrock.guard_overhead_us_p50': { target: 100, better: 'lower', unit: 'µs' },
    'bedrock.guard_overhead_ratio': { target: 1.1, better: 'lower', unit: 'x' },
  },
  async run() {
    const emulator = await startBedrockEmulator({ port: 0, outputTokens: 20 });
    const plain = client(emulator.url);
    const guarded = client(emulator.url);
    guarded.middlewareStack.use(cyclesBedrockPlugin({ cycles: benchCycles() }));
    const command = () =>
      new ConverseCommand({
        modelId: MODEL,
        messages: [{ role: 'user', content: [{ text: 'Tell me about budgets.' }] }],
        inferenceConfig: { maxTokens: 100 },
      });
    const { plainP50, overheadP50, warmupOverheadP50 } = await measureGuardOverhead(
      () => plain.send(command()),
      () => guarded.send(command()),
      { warmup: 3000, runs: 3000, afterPair: () => emulator.requests.splice(0) },
    );
    await emulator.close();
    console.error(
      `bedrock bench: plain p50 ${plainP50.toFixed(0)} µs, added ${overheadP50.toFixed(0)} µs; ` +
        `added over the 3,000 warm-up pairs ${warmupOverheadP50.toFixed(0)} µs`,
    );
    return {
      'bedrock.guard_overhead_us_p50': overheadP50,
      'bedrock.guard_overhead_ratio': (plainP50 + overheadP50) / plainP50,
    };
  },
};

const cutoff: Benchmark = {
  metrics: {
    'bedrock.stream_cutoff_tokens_over': { target: 64, better: 'lower', unit: 'tokens' },
  },
  async run() {
    // 1 ms per 16-token chunk (16k tokens/s, far faster than Bedrock): with no pacing at all the
    // emulator writes the whole answer into the socket before any client could react.
    const emulator = await startBedrockEmulator({ port: 0, outputTokens: 4000, latency: { perChunkMs: 1 } });
    const prompt = 'word '.repeat(2000);
    const realInput = Math.ceil(prompt.length / 4) + 4; // the emulator's count
    const guarded = client(emulator.url);
    // The input estimate is 40% low (the hold prices input at the dearer cache-write rate, so a small
    // miss is absorbed); message_start reveals it and the running cost crosses the hold mid-output.
    guarded.middlewareStack.use(
      cyclesBedrockPlugin({ cycles: benchCycles(), inputTokens: () => Math.floor(realInput * 0.6) }),
    );
    const decoder = new TextDecoder();
    let worst = 0;
    for (let run = 0; run < 100; run++) {
      emulator.reset();
      const output = await guarded.send(
        new InvokeModelWithResponseStreamCommand({
          modelId: MODEL,
          body: JSON.stringify({
            anthropic_version: 'bedrock-2023-05-31',
            max_tokens: 400,
            messages: [{ role: 'user', content: prompt }],
          }),
        }),
      );
      let text = '';
      for await (const event of output.body ?? []) {
        const chunk = JSON.parse(decoder.decode(event.chunk?.bytes)) as { delta?: { text?: string } };
        text += chunk.delta?.text ?? '';
      }
      await emulator.waitForIdle();
      const request = emulator.requests[0];
      if (request === undefined || text.length === 0) throw new Error(`run ${run}: no stream`);
      // Each emulator token is one word: tokens produced after the chunk that crossed the hold.
      const received = text.split(' ').filter(Boolean).length;
      worst = Math.max(worst, (request.outputTokens ?? 0) - received);
      if (request.outputTokens === 400) throw new Error(`run ${run}: the stream was not cut off`);
    }
    await emulator.close();
    return { 'bedrock.stream_cutoff_tokens_over': worst };
  },
};

/** Warm-up pairs, then as many measured pairs, of the telemetry bench. */
const PAIRS = 3000;
/**
 * CPU (user + system of this process) that `on` costs per call more than `off`: pairs of rounds, each
 * round `batches` times `inFlight` calls at once of one side, alternating which goes first, each round
 * followed by a turn of the event loop so that work left for later (spans written after their calls
 * returned) is counted with its round; after `warmup` pairs, the median of the per-pair differences,
 * per call (so a GC pause that lands on one round does not count). The latency figure cannot show work
 * done after the call; this one does. With 16 in flight, many calls settle in one turn and their spans
 * are written in one loop.
 */
async function cpuPerCallAdded(
  off: () => Promise<unknown>,
  on: () => Promise<unknown>,
  options: { inFlight: number; batches: number; warmup: number; pairs: number; afterPair: () => void },
): Promise<number> {
  const { inFlight, batches } = options;
  const round = async (call: () => Promise<unknown>) => {
    const before = process.cpuUsage();
    for (let batch = 0; batch < batches; batch++) await Promise.all(Array.from({ length: inFlight }, call));
    await new Promise((resolve) => setImmediate(resolve));
    const used = process.cpuUsage(before);
    return (used.user + used.system) / (inFlight * batches);
  };
  const differences: number[] = [];
  for (let index = 0; index < options.warmup + options.pairs; index++) {
    if (index % 2 === 0) {
      const offUsed = await round(off);
      differences.push((await round(on)) - offUsed);
    } else {
      const onUsed = await round(on);
      differences.push(onUsed - (await round(off)));
    }
    options.afterPair();
  }
  return median(differences.slice(options.warmup));
}

/** The CPU measure's rounds: one call at a time (after the latency pairs: warm), and 16 at once. */
const CPU_SERIAL = { inFlight: 1, batches: 1, warmup: 0, pairs: 2000 };
const CPU_CONCURRENT = { inFlight: 16, batches: 4, warmup: 30, pairs: 120 };

const telemetry: Benchmark = {
  metrics: {
    'bedrock.otel_overhead_us_p50': { target: 15, better: 'lower', unit: 'µs' },
    'bedrock.otel_cpu_us_per_call': { better: 'lower', unit: 'µs' },
    'bedrock.otel_cpu_us_per_call_16_in_flight': { better: 'lower', unit: 'µs' },
  },
  async run() {
    const emulator = await startBedrockEmulator({ port: 0, outputTokens: 20 });
    // The OTel SDK as an application runs it in production: a BatchSpanProcessor (spans exported in
    // the background, 512 at a time; not the SimpleSpanProcessor, which exports each span as it ends)
    // and a periodic metric reader, exporting to memory. Every span must reach the exporter: counted
    // between pairs (the exporter is emptied then) and checked at the end.
    const spans = new InMemorySpanExporter();
    const reader = new PeriodicExportingMetricReader({
      exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
      exportIntervalMillis: 3_600_000,
    });
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(spans)] });
    const otel = {
      trace: tracerProvider,
      metrics: new MeterProvider({ readers: [reader] }),
      context: api.context,
    };
    let exported = 0;
    const off = client(emulator.url);
    off.middlewareStack.use(cyclesBedrockPlugin({ cycles: benchCycles() }));
    const on = client(emulator.url);
    const traced = benchCycles({ api: otel });
    on.middlewareStack.use(cyclesBedrockPlugin({ cycles: traced }));
    const command = () =>
      new ConverseCommand({
        modelId: MODEL,
        messages: [{ role: 'user', content: [{ text: 'Tell me about budgets.' }] }],
        inferenceConfig: { maxTokens: 100 },
      });
    const drain = () => {
      emulator.requests.splice(0);
      exported += spans.getFinishedSpans().length;
      spans.reset();
    };
    const callOff = () => off.send(command());
    const callOn = () => on.send(command());
    const { plainP50, overheadP50 } = await measureGuardOverhead(callOff, callOn, {
      warmup: PAIRS,
      runs: PAIRS,
      afterPair: drain,
    });
    const cpuAdded = await cpuPerCallAdded(callOff, callOn, { ...CPU_SERIAL, afterPair: drain });
    const cpuAddedConcurrent = await cpuPerCallAdded(callOff, callOn, {
      ...CPU_CONCURRENT,
      afterPair: drain,
    });
    // Guarded calls with telemetry on: one per pair, `inFlight` per CPU pair.
    const calls =
      PAIRS * 2 +
      [CPU_SERIAL, CPU_CONCURRENT].reduce(
        (sum, cpu) => sum + (cpu.warmup + cpu.pairs) * cpu.inFlight * cpu.batches,
        0,
      );
    await emulator.close();
    // A settled call's span is written on the next turn; close writes any still waiting.
    await traced.close();
    await tracerProvider.forceFlush();
    exported += spans.getFinishedSpans().length;
    if (exported !== calls)
      throw new Error(`the exporter received ${exported} spans for ${calls} guarded calls`);
    // And every call's ledger trips reached the metrics: one reserve and one commit each.
    const { resourceMetrics } = await reader.collect();
    for (const name of [TELEMETRY_METRICS.reserveDuration, TELEMETRY_METRICS.commitDuration]) {
      const metric = resourceMetrics.scopeMetrics
        .flatMap((scope) => scope.metrics)
        .find((candidate) => candidate.descriptor.name === name);
      const counted = (metric?.dataPoints as DataPoint<Histogram>[] | undefined)?.[0]?.value.count;
      if (counted !== calls)
        throw new Error(`${name} counted ${String(counted)} trips for ${calls} guarded calls`);
    }
    console.error(
      `bedrock bench: guarded call p50 ${plainP50.toFixed(0)} µs with telemetry off; on adds ${overheadP50.toFixed(1)} µs ` +
        `and ${cpuAdded.toFixed(1)} µs of CPU per call (${cpuAddedConcurrent.toFixed(1)} µs with 16 in flight)`,
    );
    return {
      'bedrock.otel_overhead_us_p50': overheadP50,
      'bedrock.otel_cpu_us_per_call': cpuAdded,
      'bedrock.otel_cpu_us_per_call_16_in_flight': cpuAddedConcurrent,
    };
  },
};

/** Guard overhead per Converse call, what telemetry adds to it, and how far a stream runs past its hold. */
export const benchmarks: Benchmark[] = [overhead, telemetry, cutoff];
