import { createAmazonBedrock } from '@ai-sdk/amazon-bedrock';
import {
  type BedrockEmulator,
  type BedrockEmulatorOptions,
  type RecordedRequest,
  startBedrockEmulator,
} from '@cycles-guard/bedrock-emulator';
import {
  type Cycles,
  type CyclesEvent,
  createCycles,
  createMemoryLedger,
  type Ledger,
} from '@cycles-guard/core';
import { usageCost } from '@cycles-guard/core/llm';
import { type LanguageModelMiddleware, wrapLanguageModel } from 'ai';
import { type CyclesMiddlewareOptions, cyclesModelMiddleware, type LlmCallOutcome } from '../src/index.ts';

// The provider prefers these over `baseURL`; a developer's shell must not send tests to AWS.
delete process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME;
delete process.env.AWS_ENDPOINT_URL;

export const HAIKU = 'anthropic.claude-3-5-haiku-20241022-v1:0';
export const SONNET_4 = 'anthropic.claude-sonnet-4-20250514-v1:0';
export const SCOPE = 'tenant:acme';

/**
 * The AI SDK backs off 2 s, then 4 s, between retries unless the error response names a delay: this
 * fetch adds `retry-after-ms: 1` to 429s so retry tests run in milliseconds. Nothing else changes.
 */
export const fastRetryFetch: typeof fetch = async (input, init) => {
  const response = await fetch(input, init);
  if (response.status !== 429) return response;
  const headers = new Headers(response.headers);
  headers.set('retry-after-ms', '1');
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
};

/** A memory ledger with one budget at `tenant:acme`, and a Cycles instance paying from it. */
export function budget(allocated: number, extra: { minOutputTokens?: number } = {}) {
  const ledger: Ledger = createMemoryLedger({
    sweepIntervalMs: 0,
    ledgers: [{ scope: SCOPE, unit: 'USD_MICROCENTS', allocated }],
  });
  const events: CyclesEvent[] = [];
  const cycles: Cycles = createCycles({
    authority: ledger,
    subject: { tenant: 'acme' },
    onEvent: (event) => {
      events.push(event);
    },
    ...extra,
  });
  /** Event types in order, for the settlement sequence (decision, commit, release, denial). */
  const sequence = () =>
    events
      .map((event) => event.type)
      .filter((type) => type === 'decision' || type === 'commit' || type === 'release' || type === 'denial');
  const state = async (scope = SCOPE) => {
    const row = await ledger.getLedger(scope, 'USD_MICROCENTS');
    if (row === undefined) throw new Error(`no ledger ${scope}`);
    return row;
  };
  return { ledger, cycles, state, events, sequence };
}

/** What the emulator's reported usage of `request` costs at the catalog price of `model`. */
export function emulatorCost(cycles: Cycles, model: string, request: RecordedRequest): number {
  return usageCost(
    {
      inputTokens: request.inputTokens,
      outputTokens: request.outputTokens,
      cacheReadInputTokens: request.cacheReadInputTokens,
      cacheWriteInputTokens: request.cacheWriteInputTokens,
    },
    cycles.catalog.resolve(model).price,
  );
}

/** Sum of {@link emulatorCost} over every request the emulator answered with 200. */
export function emulatorSpend(cycles: Cycles, model: string, emulator: BedrockEmulator): number {
  return emulator.requests
    .filter((request) => request.status === 200)
    .reduce((sum, request) => sum + emulatorCost(cycles, model, request), 0);
}

/** A real `@ai-sdk/amazon-bedrock` model on the emulator at `url`, wrapped with the guard (outermost). */
export function guardedModel(
  url: string,
  model: string,
  options: CyclesMiddlewareOptions,
  inner: LanguageModelMiddleware[] = [],
) {
  const bedrock = createAmazonBedrock({
    region: 'us-east-1',
    baseURL: url,
    accessKeyId: 'AKIDTEST',
    secretAccessKey: 'test',
    fetch: fastRetryFetch,
  });
  return wrapLanguageModel({ model: bedrock(model), middleware: [cyclesModelMiddleware(options), ...inner] });
}

/** Emulator + a real `@ai-sdk/amazon-bedrock` model wrapped with the guard. */
export async function setup(
  allocated: number,
  {
    model = HAIKU,
    emulator: emulatorOptions = {},
    middleware = {},
    inner = [],
    minOutputTokens,
  }: {
    model?: string;
    emulator?: BedrockEmulatorOptions;
    middleware?: CyclesMiddlewareOptions;
    inner?: LanguageModelMiddleware[];
    minOutputTokens?: number;
  } = {},
) {
  const emulator = await startBedrockEmulator({ port: 0, ...emulatorOptions });
  const b = budget(allocated, minOutputTokens === undefined ? {} : { minOutputTokens });
  const guarded = guardedModel(emulator.url, model, { cycles: b.cycles, ...middleware }, inner);
  return { emulator, model: guarded, ...b };
}

export type Setup = Awaited<ReturnType<typeof setup>>;

/** The guard's `providerMetadata.cycles` of a result; fails the test when it is missing. */
export function cyclesMetadata(providerMetadata: Record<string, unknown> | undefined): LlmCallOutcome {
  const value = providerMetadata?.cycles;
  if (value === undefined) throw new Error('no providerMetadata.cycles');
  return value as LlmCallOutcome;
}
