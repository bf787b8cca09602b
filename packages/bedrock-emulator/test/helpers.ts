import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/** A real SDK client pointed at the emulator, with the raw response headers of every call captured. */
export function makeClient(url: string): { client: BedrockRuntimeClient; headers: Record<string, string>[] } {
  const client = new BedrockRuntimeClient({
    region: 'us-east-1',
    endpoint: url,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' },
    requestHandler: new NodeHttpHandler(),
    maxAttempts: 1,
  });
  const headers: Record<string, string>[] = [];
  client.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      headers.push((result.response as { headers: Record<string, string> }).headers);
      return result;
    },
    { step: 'deserialize', name: 'captureResponseHeaders' },
  );
  return { client, headers };
}

/** A caught rejection, for asserting on SDK errors. */
export async function caught(
  promise: Promise<unknown>,
): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

export const SONNET = 'anthropic.claude-sonnet-4-20250514-v1:0';

export const userMessage = (text: string) => ({ role: 'user' as const, content: [{ text }] });
