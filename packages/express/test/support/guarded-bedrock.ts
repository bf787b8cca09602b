import { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { cyclesBedrockPlugin } from '@cycles-guard/bedrock';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { RequestHandler } from 'express';
import { asyncHandler } from '../../src/index.ts';

export const SONNET = 'anthropic.claude-sonnet-4-20250514-v1:0';

/** A real SDK client pointed at the Bedrock emulator at `url`, guarded by the cycles-guard plugin. */
export function guardedBedrockClient(url: string): BedrockRuntimeClient {
  const client = new BedrockRuntimeClient({
    region: 'us-east-1',
    endpoint: url,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' },
    requestHandler: new NodeHttpHandler(),
    maxAttempts: 1,
  });
  client.middlewareStack.use(cyclesBedrockPlugin());
  return client;
}

/** The README's async route: one Converse call to Sonnet asking 4,096 output tokens, its output as JSON. */
export function sonnetChatRoute(client: BedrockRuntimeClient): RequestHandler {
  return asyncHandler(async (_request, response) => {
    const output = await client.send(
      new ConverseCommand({
        modelId: SONNET,
        messages: [{ role: 'user', content: [{ text: 'hello' }] }],
        inferenceConfig: { maxTokens: 4_096 },
      }),
    );
    response.json(output.output);
  });
}
