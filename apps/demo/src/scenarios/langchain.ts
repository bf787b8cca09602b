import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { startBedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { BudgetExceededError, createCycles, createMemoryLedger } from '@cycles-guard/core';
import { CyclesCallbackHandler, type CyclesRunSettlement, guardChatModel } from '@cycles-guard/langchain';
import { ChatBedrockConverse } from '@langchain/aws';
import { tool } from '@langchain/core/tools';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { createAgent } from 'langchain';
import { z } from 'zod';
import { projectFromEmulator } from '../projection.ts';
import { runAgents } from '../run-agents.ts';
import { DEMO_MODEL, type DemoResult, MICROCENTS_PER_DOLLAR } from '../scenario.ts';

/** Options of {@link runLangchainScenario}. */
export interface LangchainScenarioOptions {
  /** Progress lines (stderr in the CLI). */
  onProgress?(line: string): void;
  /** @default $1.00 for tenant `acme` */
  budgetMicrocents?: number;
  /** Agents running at once, all on the tenant's budget. @default 4 */
  workers?: number;
  /** Output tokens each turn asks for. @default 4096 */
  maxTokens?: number;
  /** The scheduled "night"; agents still running then are stopped (not by the guard). @default 20,000 ms */
  durationMs?: number;
}

const dollars = (microcents: number) => `$${(microcents / MICROCENTS_PER_DOLLAR).toFixed(2)}`;

/**
 * The runaway agent as LangChain users build it: `workers` `createAgent` agents with a search tool on
 * `ChatBedrockConverse` (emulator), guarded by one `CyclesCallbackHandler`. Each model turn reserves,
 * is capped, and commits; the turn the budget cannot pay for stops its agent with BudgetExceededError.
 */
export async function runLangchainScenario(options: LangchainScenarioOptions = {}): Promise<DemoResult> {
  const budgetMicrocents = options.budgetMicrocents ?? MICROCENTS_PER_DOLLAR;
  const workers = options.workers ?? 4;
  const maxTokens = options.maxTokens ?? 4_096;
  const durationMs = options.durationMs ?? 20_000;
  const progress = options.onProgress ?? (() => {});
  let seed = 7;
  const emulator = await startBedrockEmulator({
    port: 0,
    latency: { firstByteMs: 150, perChunkMs: 10 },
    // A runaway agent writes long answers: 1,200–3,600 tokens wanted, clamped to the granted maxTokens.
    outputTokens: () => {
      seed = (seed * 48_271) % 2_147_483_647;
      return 1_200 + (seed % 2_400);
    },
    // Every answer ends in a search call, so the agent never finishes on its own.
    toolCalls: { tool: 'search', input: () => ({ topic: 'budgets' }) },
  });
  const client = new BedrockRuntimeClient({
    region: 'us-east-1',
    endpoint: emulator.url,
    credentials: { accessKeyId: 'AKIDDEMO', secretAccessKey: 'demo' },
    requestHandler: new NodeHttpHandler(),
    maxAttempts: 1,
  });
  const ledger = createMemoryLedger({
    sweepIntervalMs: 0,
    ledgers: [{ scope: 'tenant:acme', unit: 'USD_MICROCENTS', allocated: budgetMicrocents }],
  });
  const cycles = createCycles({ authority: ledger, subject: { tenant: 'acme' } });
  const turns: CyclesRunSettlement[] = [];
  let spentMicrocents = 0;
  const handler = new CyclesCallbackHandler({
    cycles,
    onSettled: (turn) => {
      turns.push(turn);
      if (turn.settlement.status === 'committed') spentMicrocents += turn.settlement.charged;
    },
  });
  const search = tool(
    async ({ topic }: { topic: string }) => `Found 3 more sources on ${topic}; keep digging.`,
    {
      name: 'search',
      description: 'Searches the web.',
      schema: z.object({ topic: z.string() }),
    },
  );
  const model = guardChatModel(
    new ChatBedrockConverse({ model: DEMO_MODEL, region: 'us-east-1', client, maxTokens }),
    handler,
  );
  const agent = createAgent({ model, tools: [search] });

  let denied = 0;
  let stoppedAtMs: number | undefined;
  let stopReason: string | undefined;
  const started = performance.now();
  const line = () =>
    `[${((performance.now() - started) / 1000).toFixed(1).padStart(5)}s] turns ${turns.length + denied}` +
    `  allowed ${turns.length}  capped ${turns.filter((turn) => turn.capped).length}  denied ${denied}` +
    `  spent ${dollars(spentMicrocents)} / ${dollars(budgetMicrocents)}`;
  const ticker = setInterval(() => progress(line()), 1_000);
  const deadline = AbortSignal.timeout(durationMs);

  async function runAgent(index: number): Promise<void> {
    try {
      await agent.invoke(
        { messages: [{ role: 'user', content: `Research task ${index + 1}: everything about budgets.` }] },
        { recursionLimit: 10_000, signal: deadline },
      );
    } catch (error) {
      if (deadline.aborted) return;
      if (!BudgetExceededError.isInstance(error)) throw error;
      denied += 1;
      if (stoppedAtMs === undefined) {
        stoppedAtMs = performance.now() - started;
        stopReason = `${error.code}: ${error.message}`;
        progress(`${line()}  <- ${error.code}, agent ${index + 1} stopped`);
      }
    }
  }

  const state = await runAgents(workers, runAgent, { emulator, ledger, cycles, ticker });
  const elapsedMs = performance.now() - started;
  progress(line());

  // Uncapped turns are the ones that got the maxTokens they asked for: what an unguarded loop makes.
  const { price } = cycles.catalog.resolve(DEMO_MODEL);
  const projection = projectFromEmulator(emulator.requests, price, maxTokens, workers, durationMs);
  return {
    workers,
    calls: turns.length + denied,
    allowed: turns.length,
    capped: turns.filter((turn) => turn.capped).length,
    denied,
    spentMicrocents: state.spent,
    reservedMicrocents: state.reserved,
    budgetMicrocents,
    cappedGrantedMaxTokens: turns.filter((turn) => turn.capped).map((turn) => turn.grantedMaxOutputTokens),
    ...projection,
    stoppedAtMs: stoppedAtMs === undefined ? undefined : Math.round(stoppedAtMs),
    stopReason,
    retryAfterSeconds: undefined,
    elapsedMs: Math.round(elapsedMs),
    stoppedByGuard: stoppedAtMs !== undefined,
  };
}
