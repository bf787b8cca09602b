/**
 * Helpers for the example apps' HTTP tests (`@cycles-guard/example-chat/testing`): a Bedrock emulator
 * with a guarded client, fresh tenant budgets per test, ledger reads, an SSE parser and `pnpm start` in a
 * child process. Framework-free and test-runner-free: the apps' tests register the hooks themselves.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import type { BedrockEmulator } from '@cycles-guard/bedrock-emulator';
import type { Cycles } from '@cycles-guard/core';
import { type BedrockConnection, connectBedrock } from './bedrock.ts';
import { type BudgetAlertWebhook, createTenantBudgets } from './budgets.ts';

/** The emulator's default model, Claude 3.5 Haiku. */
export const MODEL = 'anthropic.claude-3-5-haiku-20241022-v1:0';
/** Claude 3.5 Haiku: $0.80 / $4 per million tokens = 80 / 400 microcents per token. */
export const INPUT_PRICE = 80;
export const OUTPUT_PRICE = 400;
export const API_KEYS: ReadonlyMap<string, string> = new Map([
  ['key-acme', 'acme'],
  ['key-globex', 'globex'],
]);
export const ACME = { 'x-api-key': 'key-acme' };
export const GLOBEX = { 'x-api-key': 'key-globex' };

/** What a call with this usage costs on Claude 3.5 Haiku, in microcents. */
export function priceOf(usage: { inputTokens: number; outputTokens: number }): number {
  return usage.inputTokens * INPUT_PRICE + usage.outputTokens * OUTPUT_PRICE;
}

/**
 * One emulator and guarded client for a test file, and fresh budgets per test. Call `start` before all
 * tests, `reset` after each and `close` after all.
 */
export class ChatTestBed {
  #bedrock: BedrockConnection | undefined;
  #cycles: Cycles | undefined;

  /** Every answer wants 300 tokens (clamped to the granted maxTokens), streamed 16 tokens per delta. */
  async start(): Promise<void> {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
    this.#bedrock = await connectBedrock(undefined, { outputTokens: 300 });
  }

  get client(): BedrockRuntimeClient {
    return this.#connection().client;
  }

  get emulator(): BedrockEmulator {
    return this.#connection().emulator!;
  }

  /** Template budgets for the current test, closed by `reset`. */
  budgets(dailyBudgetMicrocents: number, alerts?: BudgetAlertWebhook): Cycles {
    this.#cycles = createTenantBudgets(dailyBudgetMicrocents, alerts);
    return this.#cycles;
  }

  /** The tenant's budget row in the ledger, undefined until its first guarded call created it. */
  async ledger(tenant: string): Promise<{ spent: number; reserved: number } | undefined> {
    const { balances } = await this.#cycles!.authority.getBalances({ tenant });
    const row = balances.find((balance) => balance.scopePath === `tenant:${tenant}`);
    return row === undefined
      ? undefined
      : { spent: row.spent?.amount ?? 0, reserved: row.reserved?.amount ?? 0 };
  }

  async reset(): Promise<void> {
    this.emulator.reset();
    this.emulator.latency.perChunkMs = 0;
    await this.#cycles?.close();
    this.#cycles = undefined;
  }

  async close(): Promise<void> {
    await this.#bedrock?.close();
  }

  #connection(): BedrockConnection {
    if (this.#bedrock === undefined) throw new Error('ChatTestBed.start() was not awaited');
    return this.#bedrock;
  }
}

/** Sends until the budget answers 429 (at most `limit` times): the answers before it, and the denial. */
export async function exhaustBudget<R extends { status: number }>(
  send: () => Promise<R>,
  limit = 20,
): Promise<{ answers: R[]; denied: R | undefined }> {
  const answers: R[] = [];
  while (answers.length < limit) {
    const response = await send();
    if (response.status === 429) return { answers, denied: response };
    answers.push(response);
  }
  return { answers, denied: undefined };
}

/** What the 200 answers among `responses` were charged, in microcents. */
export function chargedOf(
  responses: { status: number; body: { budget?: { chargedMicrocents: number } } }[],
): number {
  return responses
    .filter((response) => response.status === 200)
    .reduce((sum, response) => sum + (response.body.budget?.chargedMicrocents ?? 0), 0);
}

/** Parses an SSE body into its events. */
export function sseEvents(text: string): { event: string; data: Record<string, unknown> }[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
      return { event, data: JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? '{}') as Record<string, unknown> };
    });
}

/** The child's stdout and stderr once they match `pattern`; rejects with them if it exits first or times out. */
export function outputMatching(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(
      () => reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (!pattern.test(output)) return;
      clearTimeout(timer);
      resolve(output);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before printing ${pattern}:\n${output}`));
    });
  });
}

/** A `pnpm start` (src/main.ts) running in a child process on the emulator and a free port. */
export interface StartedMain {
  /** The URL it printed. */
  url: string;
  /** Sends SIGTERM; resolves to the exit code. */
  stop(): Promise<number | null>;
}

/** Runs `src/main.ts` of the app in `appDir` as `pnpm start` does, until it printed its Bedrock line. */
export async function startMain(appDir: string): Promise<StartedMain> {
  const child = spawn(
    process.execPath,
    ['--conditions=@cycles-guard/source', '--import', 'tsx', 'src/main.ts'],
    {
      cwd: appDir,
      env: { ...process.env, PORT: '0', AWS_REGION: '', AWS_DEFAULT_REGION: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const stop = () => {
    child.kill('SIGTERM');
    return exited;
  };
  try {
    // The Bedrock line is printed after the URL line. A cold start (tsx compiling the workspace sources)
    // can take a while on a busy machine.
    const output = await outputMatching(child, /Bedrock: emulator at http:\/\/127\.0\.0\.1:\d+/, 60_000);
    return { url: /listening on (http:\/\/\S+)/.exec(output)![1]!, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
