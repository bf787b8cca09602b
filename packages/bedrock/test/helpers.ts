import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import {
  type BedrockEmulator,
  type BedrockEmulatorOptions,
  startBedrockEmulator,
} from '@cycles-guard/bedrock-emulator';
import { type CyclesOptions, createCycles, createMemoryLedger, type Ledger } from '@cycles-guard/core';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { type CyclesBedrockOptions, cyclesBedrockPlugin } from '../src/index.ts';

type CyclesUnit = NonNullable<CyclesOptions['unit']>;

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

export const SCOPE = 'tenant:acme';

/** A real SDK client pointed at the emulator, optionally guarded. */
export function sdkClient(url: string): BedrockRuntimeClient {
  return new BedrockRuntimeClient({
    region: 'us-east-1',
    endpoint: url,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' },
    requestHandler: new NodeHttpHandler(),
    maxAttempts: 1,
  });
}

/** A Cycles instance on a memory ledger with one budget at `tenant:acme`. */
export function budget(allocated: number, unit: CyclesUnit = 'USD_MICROCENTS', extraScopes: string[] = []) {
  const ledger: Ledger = createMemoryLedger({
    sweepIntervalMs: 0,
    ledgers: [SCOPE, ...extraScopes].map((scope) => ({ scope, unit, allocated })),
  });
  const cycles = createCycles({ authority: ledger, unit, subject: { tenant: 'acme' } });
  const state = async (scope = SCOPE) => {
    const row = await ledger.getLedger(scope, unit);
    if (row === undefined) throw new Error(`no ledger ${scope}`);
    return row;
  };
  return { ledger, cycles, state };
}

export async function guardedSetup(
  allocated: number,
  options: CyclesBedrockOptions = {},
  unit?: CyclesUnit,
  emulatorOptions: BedrockEmulatorOptions = {},
) {
  const emulator: BedrockEmulator = await startBedrockEmulator({ port: 0, ...emulatorOptions });
  const b = budget(allocated, unit);
  const client = sdkClient(emulator.url);
  client.middlewareStack.use(cyclesBedrockPlugin({ cycles: b.cycles, ...options }));
  return { emulator, client, ...b };
}
