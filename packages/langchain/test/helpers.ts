import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { type BedrockEmulatorOptions, startBedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { type Cycles, createCycles, createMemoryLedger, type Ledger } from '@cycles-guard/core';
import { usageCost } from '@cycles-guard/core/llm';
import { ChatBedrockConverse } from '@langchain/aws';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { CyclesCallbackHandler, type CyclesCallbackHandlerOptions, guardChatModel } from '../src/index.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

export const HAIKU = 'anthropic.claude-3-5-haiku-20241022-v1:0';
export const SCOPE = 'tenant:acme';

/** A real SDK client pointed at the emulator (HTTP/1.1, fake credentials, no SDK retries). */
export function sdkClient(url: string, maxAttempts = 1): BedrockRuntimeClient {
  return new BedrockRuntimeClient({
    region: 'us-east-1',
    endpoint: url,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' },
    requestHandler: new NodeHttpHandler(),
    maxAttempts,
  });
}

/** A Cycles instance on a memory ledger holding `allocated` at `tenant:acme`. */
export function budget(allocated: number) {
  const ledger: Ledger = createMemoryLedger({
    sweepIntervalMs: 0,
    ledgers: [{ scope: SCOPE, unit: 'USD_MICROCENTS', allocated }],
  });
  const cycles = createCycles({ authority: ledger, subject: { tenant: 'acme' } });
  const state = async () => {
    const row = await ledger.getLedger(SCOPE, 'USD_MICROCENTS');
    if (row === undefined) throw new Error(`no ledger ${SCOPE}`);
    return row;
  };
  return { ledger, cycles, state };
}

/** USD microcents of one emulator-recorded request, priced like core prices it. */
export function priced(
  cycles: Cycles,
  request: {
    inputTokens: number;
    outputTokens: number;
    cacheReadInputTokens?: number;
    cacheWriteInputTokens?: number;
  },
  model = HAIKU,
): number {
  return usageCost(
    {
      inputTokens: request.inputTokens,
      outputTokens: request.outputTokens,
      cacheReadInputTokens: request.cacheReadInputTokens ?? 0,
      cacheWriteInputTokens: request.cacheWriteInputTokens ?? 0,
    },
    cycles.catalog.resolve(model).price,
  );
}

/** Microcents that hold about `inputTokens` of input plus `outputTokens` of output for `model`. */
export function room(cycles: Cycles, inputTokens: number, outputTokens: number, model = HAIKU): number {
  const price = cycles.catalog.resolve(model).price;
  const inputRate = Math.max(price.inputPerMillion, price.cacheWritePerMillion ?? 0);
  return Math.ceil((inputTokens * inputRate + outputTokens * price.outputPerMillion) / 1e6);
}

/** Emulator + budget + handler + a real ChatBedrockConverse guarded by the handler (callbacks and cap). */
export async function guardedModel(
  allocated: number,
  modelFields: Partial<ConstructorParameters<typeof ChatBedrockConverse>[0]> = {},
  handlerOptions: CyclesCallbackHandlerOptions = {},
  emulatorOptions: BedrockEmulatorOptions = {},
) {
  const emulator = await startBedrockEmulator({ port: 0, ...emulatorOptions });
  const b = budget(allocated);
  const handler = new CyclesCallbackHandler({ cycles: b.cycles, ...handlerOptions });
  const model = guardChatModel(
    new ChatBedrockConverse({
      model: HAIKU,
      region: 'us-east-1',
      client: sdkClient(emulator.url),
      ...modelFields,
    }),
    handler,
  );
  return { emulator, handler, model, ...b };
}
