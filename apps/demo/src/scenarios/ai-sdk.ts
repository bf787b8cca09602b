import { createAmazonBedrock } from '@ai-sdk/amazon-bedrock';
import { cyclesMiddleware, type LlmCallOutcome } from '@cycles-guard/ai-sdk';
import { startBedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { BudgetExceededError, createCycles, createMemoryLedger } from '@cycles-guard/core';
import { stepCountIs, streamText, tool, wrapLanguageModel } from 'ai';
import { z } from 'zod';
import { projectFromEmulator } from '../projection.ts';
import { runAgents } from '../run-agents.ts';
import { DEMO_MODEL, type DemoResult, MICROCENTS_PER_DOLLAR } from '../scenario.ts';

/** Options of {@link runAiSdkScenario}. */
export interface AiSdkScenarioOptions {
  /** Progress lines (stderr in the CLI). */
  onProgress?(line: string): void;
  /** @default $1.00 for tenant `acme` */
  budgetMicrocents?: number;
  /** Agent loops running at once, all on the tenant's budget. @default 4 */
  workers?: number;
  /** Output tokens each step asks for. @default 4096 */
  maxOutputTokens?: number;
  /** The scheduled "night"; loops still running then are stopped (not by the guard). @default 20,000 ms */
  durationMs?: number;
  /** Emulator latency (~25× faster than real streaming). @default 150 ms first byte, 10 ms per chunk */
  latency?: { firstByteMs: number; perChunkMs: number };
}

const dollars = (microcents: number) => `$${(microcents / MICROCENTS_PER_DOLLAR).toFixed(2)}`;

/**
 * The runaway agent as AI SDK users build it: `workers` `streamText` tool loops on
 * `@ai-sdk/amazon-bedrock` (emulator) wrapped with `cyclesMiddleware()`. Every step reserves, is
 * capped and commits; the step the budget cannot pay for ends its loop with BudgetExceededError.
 */
export async function runAiSdkScenario(options: AiSdkScenarioOptions = {}): Promise<DemoResult> {
  const budgetMicrocents = options.budgetMicrocents ?? MICROCENTS_PER_DOLLAR;
  const workers = options.workers ?? 4;
  const maxOutputTokens = options.maxOutputTokens ?? 4_096;
  const durationMs = options.durationMs ?? 20_000;
  const progress = options.onProgress ?? (() => {});
  let seed = 7;
  const emulator = await startBedrockEmulator({
    port: 0,
    latency: options.latency ?? { firstByteMs: 150, perChunkMs: 10 },
    // A runaway agent writes long answers: 1,200–3,600 tokens wanted, clamped to the granted maxTokens.
    outputTokens: () => {
      seed = (seed * 48_271) % 2_147_483_647;
      return 1_200 + (seed % 2_400);
    },
    // Every answer ends in a search call, so the loop never ends on its own.
    toolCalls: { tool: 'search' },
  });
  const bedrock = createAmazonBedrock({
    region: 'us-east-1',
    baseURL: emulator.url,
    accessKeyId: 'AKIDDEMO',
    secretAccessKey: 'demo',
  });
  const ledger = createMemoryLedger({
    sweepIntervalMs: 0,
    ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: budgetMicrocents }],
  });
  const cycles = createCycles({ authority: ledger, subject: { tenant: 'acme' } });
  const model = wrapLanguageModel({ model: bedrock(DEMO_MODEL), middleware: cyclesMiddleware({ cycles }) });
  const search = tool({
    description: 'Searches the web.',
    inputSchema: z.object({ topic: z.string() }),
    execute: async ({ topic }) => `Found 3 more sources on ${topic}; keep digging.`,
  });

  const steps: LlmCallOutcome[] = [];
  let denied = 0;
  let stoppedAtMs: number | undefined;
  let stopReason: string | undefined;
  let retryAfterSeconds: number | undefined;
  const started = performance.now();
  const spent = () => steps.reduce((sum, step) => sum + (step.charged ?? 0), 0);
  const line = () =>
    `[${((performance.now() - started) / 1000).toFixed(1).padStart(5)}s] steps ${steps.length + denied}` +
    `  allowed ${steps.length}  capped ${steps.filter((step) => step.capped).length}  denied ${denied}` +
    `  spent ${dollars(spent())} / ${dollars(budgetMicrocents)}`;
  const ticker = setInterval(() => progress(line()), 1_000);
  const deadline = AbortSignal.timeout(durationMs);

  async function runAgent(index: number): Promise<void> {
    let failure: unknown;
    const result = streamText({
      model,
      tools: { search },
      prompt: `Research task ${index + 1}: everything about budgets.`,
      maxOutputTokens,
      stopWhen: stepCountIs(10_000),
      abortSignal: deadline,
      onStepFinish: (step) => {
        const metadata = step.providerMetadata?.cycles as LlmCallOutcome | undefined;
        if (metadata !== undefined) steps.push(metadata);
      },
      onError: ({ error }) => {
        failure = error;
      },
    });
    await result.consumeStream();
    if (deadline.aborted || failure === undefined) return;
    if (!BudgetExceededError.isInstance(failure)) throw failure;
    denied += 1;
    if (stoppedAtMs === undefined) {
      stoppedAtMs = performance.now() - started;
      stopReason = `${failure.code}: ${failure.message}`;
      retryAfterSeconds =
        failure.retryAfterMs === undefined ? undefined : Math.ceil(failure.retryAfterMs / 1000);
      progress(`${line()}  <- ${failure.code}, agent ${index + 1} stopped`);
    }
  }

  const state = await runAgents(workers, runAgent, { emulator, ledger, cycles, ticker });
  const elapsedMs = performance.now() - started;
  progress(line());

  // Uncapped steps got the maxOutputTokens they asked for: what an unguarded loop makes.
  const { price } = cycles.catalog.resolve(DEMO_MODEL);
  const projection = projectFromEmulator(emulator.requests, price, maxOutputTokens, workers, durationMs);
  const capped = steps.filter((step) => step.capped);
  return {
    workers,
    calls: steps.length + denied,
    allowed: steps.length,
    capped: capped.length,
    denied,
    spentMicrocents: state.spent,
    reservedMicrocents: state.reserved,
    budgetMicrocents,
    cappedGrantedMaxTokens: capped.map((step) => step.grantedMaxOutputTokens),
    ...projection,
    stoppedAtMs: stoppedAtMs === undefined ? undefined : Math.round(stoppedAtMs),
    stopReason,
    retryAfterSeconds,
    elapsedMs: Math.round(elapsedMs),
    stoppedByGuard: stoppedAtMs !== undefined,
  };
}
