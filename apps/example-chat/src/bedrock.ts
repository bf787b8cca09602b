import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { createGuardedBedrockClient } from '@cycles-guard/bedrock';
import {
  type BedrockEmulator,
  type BedrockEmulatorOptions,
  startBedrockEmulator,
} from '@cycles-guard/bedrock-emulator';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/** A Bedrock client guarded by the cycles-guard plugin, and what it talks to. */
export interface BedrockConnection {
  client: BedrockRuntimeClient;
  /** `emulator at http://…` or `AWS <region>`, for the startup line. */
  target: string;
  /** The in-process emulator, when no AWS region was given (tests read its recorded requests). */
  emulator?: BedrockEmulator;
  close(): Promise<void>;
}

/**
 * Real Bedrock in `awsRegion` (default credential chain), else a Bedrock emulator started in this process.
 * Either way every Converse call reserves, caps and commits in the request's budget context.
 */
export async function connectBedrock(
  awsRegion: string | undefined,
  emulatorOptions: BedrockEmulatorOptions = {},
): Promise<BedrockConnection> {
  if (awsRegion !== undefined) {
    const client = createGuardedBedrockClient({ region: awsRegion, maxAttempts: 1 });
    return { client, target: `AWS ${awsRegion}`, close: async () => client.destroy() };
  }
  const emulator = await startBedrockEmulator({ port: 0, ...emulatorOptions });
  const client = createGuardedBedrockClient({
    region: 'us-east-1',
    endpoint: emulator.url,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'emulator' },
    // The emulator speaks HTTP/1.1; the client's default handler is HTTP/2.
    requestHandler: new NodeHttpHandler(),
    maxAttempts: 1,
  });
  return {
    client,
    target: `emulator at ${emulator.url}`,
    emulator,
    close: async () => {
      client.destroy();
      await emulator.close();
    },
  };
}
