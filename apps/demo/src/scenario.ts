import type { AddressInfo } from 'node:net';
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { cyclesBedrockPlugin } from '@cycles-guard/bedrock';
import { type BedrockEmulator, startBedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { type Cycles, type CyclesEventHandler, createCycles } from '@cycles-guard/core';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { createGuardedApp, DEMO_API_KEY, type StepResponse } from './guarded-app.ts';
import { projectUnguarded } from './projection.ts';

/** Claude Sonnet 4, priced from core's catalog ($3 / $15 per million tokens). */
export const DEMO_MODEL = 'anthropic.claude-sonnet-4-20250514-v1:0';
/** USD microcents per dollar. */
export const MICROCENTS_PER_DOLLAR = 100_000_000;

/** Options of `runDemo`. */
export interface DemoOptions {
  /** @default $1.00 (100,000,000 microcents) a day for tenant `acme` */
  budgetMicrocents?: number;
  /** Concurrent agent workers. @default 4 */
  workers?: number;
  /** Output tokens the agent asks for on every call. @default 4096 */
  maxTokens?: number;
  /** Emulator latency (scaled: ~25× faster than real streaming). @default 150 ms first byte, 10 ms per chunk */
  latency?: { firstByteMs: number; perChunkMs: number };
  /**
   * How long the loop is scheduled to run (the compressed "night"); it stops earlier when the guard
   * denies it with a Retry-After past this deadline.
   * @default 20,000 ms
   */
  durationMs?: number;
  /** Seed of prompt sizes and answer lengths. @default 7 */
  seed?: number;
  /** Call real Bedrock in `region` (default AWS credentials) instead of the emulator. */
  realRegion?: string;
  /** Model id. @default Sonnet 4 (`us.` inference profile on real Bedrock) */
  model?: string;
  /** Progress lines (stderr in the CLI). */
  onProgress?: (line: string) => void;
  /** Receives the guard's events (the dashboard records spend and denials from them). */
  onEvent?: CyclesEventHandler;
  /** Called with the guard once it exists, before the loop starts (the dashboard reads its ledger). */
  onCycles?: (cycles: Cycles) => Promise<void> | void;
}

/** What the run did, and what the same loop would have cost without the guard. */
export interface DemoResult {
  workers: number;
  calls: number;
  allowed: number;
  capped: number;
  denied: number;
  /** Committed spend, read from the ledger after the run. */
  spentMicrocents: number;
  /** Still held after the run (0: every call settled). */
  reservedMicrocents: number;
  budgetMicrocents: number;
  /** The `maxTokens` each capped call was granted instead of the requested one. */
  cappedGrantedMaxTokens: number[];
  /** `unguardedCalls` × the average cost of this run's uncapped calls. */
  unguardedMicrocents: number;
  /** Calls the unguarded loop would have made in `projectionMs`. */
  unguardedCalls: number;
  /** Time over which `unguardedMicrocents` is projected: the loop's scheduled duration. */
  projectionMs: number;
  averageUncappedCostMicrocents: number;
  /**
   * Estimate, not a measurement: the unguarded loop's cost per hour at real Bedrock speed, assuming
   * 0.5 s to first token and 60 output tokens/s per call (Sonnet-class streaming), same call mix.
   */
  unguardedPerHourAtRealSpeedMicrocents: number;
  averageUncappedCallMs: number;
  /** Milliseconds after the start when the first denial stopped a worker. */
  stoppedAtMs: number | undefined;
  stopReason: string | undefined;
  retryAfterSeconds: number | undefined;
  elapsedMs: number;
  stoppedByGuard: boolean;
}

/** Deterministic pseudo-random numbers (mulberry32), so runs are comparable. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = Math.imul(state ^ (state >>> 15), 1 | state);
    value ^= value + Math.imul(value ^ (value >>> 7), 61 | value);
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Outcome {
  response?: StepResponse;
  durationMs: number;
  denial?: { error: string; message: string; retryAfterSeconds?: number };
}

const dollars = (microcents: number) => `$${(microcents / MICROCENTS_PER_DOLLAR).toFixed(2)}`;

/**
 * The runaway agent: `workers` loops calling the guarded app back to back, each prompt 1–3k tokens and
 * asking for `maxTokens`. A worker stops when it is denied with a Retry-After longer than a minute (the
 * daily budget resets at midnight), which is what a well-behaved client does with 429 + Retry-After.
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const budgetMicrocents = options.budgetMicrocents ?? MICROCENTS_PER_DOLLAR;
  const workers = options.workers ?? 4;
  const maxTokens = options.maxTokens ?? 4_096;
  const durationMs = options.durationMs ?? 20_000;
  const next = random(options.seed ?? 7);
  const progress = options.onProgress ?? (() => {});
  let emulator: BedrockEmulator | undefined;
  let client: BedrockRuntimeClient;
  if (options.realRegion === undefined) {
    emulator = await startBedrockEmulator({
      port: 0,
      latency: options.latency ?? { firstByteMs: 150, perChunkMs: 10 },
      // A runaway agent writes long answers: 1,200–3,600 tokens wanted, clamped to the granted maxTokens.
      outputTokens: () => 1_200 + Math.floor(next() * 2_400),
    });
    client = new BedrockRuntimeClient({
      region: 'us-east-1',
      endpoint: emulator.url,
      credentials: { accessKeyId: 'AKIDDEMO', secretAccessKey: 'demo' },
      requestHandler: new NodeHttpHandler(),
      maxAttempts: 1,
    });
  } else {
    client = new BedrockRuntimeClient({ region: options.realRegion, maxAttempts: 1 });
  }
  client.middlewareStack.use(cyclesBedrockPlugin());
  const model = options.model ?? (emulator === undefined ? `us.${DEMO_MODEL}` : DEMO_MODEL);
  const cycles = createCycles({
    templates: [
      { pattern: 'tenant:*', unit: 'USD_MICROCENTS', allocated: budgetMicrocents, window: { period: 'day' } },
    ],
    ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent }),
  });
  await options.onCycles?.(cycles);
  const server = createGuardedApp(cycles, client, model).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/agent/step`;

  const outcomes: Outcome[] = [];
  let spentMicrocents = 0;
  let stoppedAtMs: number | undefined;
  let stopReason: string | undefined;
  let retryAfterSeconds: number | undefined;
  const started = performance.now();
  const line = () =>
    `[${((performance.now() - started) / 1000).toFixed(1).padStart(5)}s] calls ${outcomes.length}` +
    `  allowed ${outcomes.filter((outcome) => outcome.response).length}` +
    `  capped ${outcomes.filter((outcome) => outcome.response?.capped).length}` +
    `  denied ${outcomes.filter((outcome) => outcome.denial).length}` +
    `  spent ${dollars(spentMicrocents)} / ${dollars(budgetMicrocents)}`;
  const ticker = setInterval(() => progress(line()), 1_000);

  async function worker(): Promise<void> {
    while (performance.now() - started < durationMs) {
      const prompt = 'please keep working on the task '.repeat(170 + Math.floor(next() * 340));
      const callStarted = performance.now();
      const reply = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': DEMO_API_KEY },
        body: JSON.stringify({ prompt, maxTokens }),
      });
      const durationMs = performance.now() - callStarted;
      if (reply.ok) {
        const response = (await reply.json()) as StepResponse;
        spentMicrocents += Math.max(0, response.costMicrocents);
        outcomes.push({ response, durationMs });
        continue;
      }
      const denial = (await reply.json()) as NonNullable<Outcome['denial']>;
      outcomes.push({ durationMs, denial });
      if (stoppedAtMs === undefined) {
        stoppedAtMs = performance.now() - started;
        stopReason = `${reply.status} ${denial.error}: ${denial.message}`;
        retryAfterSeconds = denial.retryAfterSeconds;
        progress(
          `${line()}  <- ${reply.status} ${denial.error}, Retry-After ${reply.headers.get('retry-after')} s`,
        );
      }
      // Honour Retry-After: the daily budget resets hours after the loop's deadline, so the worker stops.
      const remainingMs = durationMs - (performance.now() - started);
      if (reply.status !== 429 || (denial.retryAfterSeconds ?? 0) * 1000 > remainingMs) return;
      await new Promise((resolve) => setTimeout(resolve, (denial.retryAfterSeconds ?? 1) * 1000));
    }
  }

  let ledger = { spent: 0, reserved: 0 };
  try {
    await Promise.all(Array.from({ length: workers }, () => worker()));
    // The ledger is the truth for spend; the per-call charges above only drive the progress line.
    const { balances } = await cycles.authority.getBalances({ tenant: 'acme' });
    const row = balances.find((balance) => balance.scopePath === 'tenant:acme');
    ledger = { spent: row?.spent?.amount ?? 0, reserved: row?.reserved?.amount ?? 0 };
  } finally {
    clearInterval(ticker);
    server.close();
    await emulator?.close();
    await cycles.close();
  }
  const elapsedMs = performance.now() - started;
  progress(line());

  const allowed = outcomes.filter((outcome) => outcome.response !== undefined);
  const uncapped = allowed.filter((outcome) => outcome.response?.capped === false);
  const basis = uncapped.length > 0 ? uncapped : allowed;
  const projection = projectUnguarded(
    basis.map((outcome) => ({
      costMicrocents: outcome.response?.costMicrocents ?? 0,
      durationMs: outcome.durationMs,
      outputTokens: outcome.response?.outputTokens ?? 0,
    })),
    workers,
    durationMs,
  );
  return {
    workers,
    calls: outcomes.length,
    allowed: allowed.length,
    capped: allowed.filter((outcome) => outcome.response?.capped).length,
    denied: outcomes.filter((outcome) => outcome.denial).length,
    spentMicrocents: ledger.spent,
    reservedMicrocents: ledger.reserved,
    budgetMicrocents,
    cappedGrantedMaxTokens: allowed.flatMap((outcome) =>
      outcome.response?.capped ? [outcome.response.grantedMaxTokens] : [],
    ),
    ...projection,
    stoppedAtMs: stoppedAtMs === undefined ? undefined : Math.round(stoppedAtMs),
    stopReason,
    retryAfterSeconds,
    elapsedMs: Math.round(elapsedMs),
    stoppedByGuard: stoppedAtMs !== undefined,
  };
}
