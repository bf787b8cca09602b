import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { type BedrockEmulator, startBedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { NodeHttpHandler } from '@smithy/node-http-handler';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/** A Bedrock Runtime client and how to stop what it started. */
export interface BedrockTarget {
  client: BedrockRuntimeClient;
  /** The local emulator, when the client talks to one. */
  emulator: BedrockEmulator | undefined;
  close(): Promise<void>;
}

/**
 * A client on the local emulator (HTTP/1.1, fake credentials). `toolCalls` is how many turns the
 * emulated model answers with a price lookup before answering in text (`Infinity`: a runaway agent).
 */
export async function emulatedBedrock(toolCalls: number): Promise<BedrockTarget> {
  const emulator = await startBedrockEmulator({
    port: 0,
    toolCalls: { turns: toolCalls, input: () => ({ model: 'anthropic.claude-3-5-haiku-20241022-v1:0' }) },
  });
  const client = new BedrockRuntimeClient({
    region: 'us-east-1',
    endpoint: emulator.url,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'example' },
    requestHandler: new NodeHttpHandler(),
    maxAttempts: 1,
  });
  return { client, emulator, close: () => emulator.close() };
}

/** A client on real Bedrock in `region`, with the default AWS credential chain. */
export function realBedrock(region: string): BedrockTarget {
  const client = new BedrockRuntimeClient({ region });
  return { client, emulator: undefined, close: async () => client.destroy() };
}
