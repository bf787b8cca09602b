import { type BedrockRuntimeClient, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { type Cycles, currentCycles } from '@cycles-guard/core';
import { cyclesErrorHandler, cyclesMiddleware } from '@cycles-guard/express';
import express, { type Express } from 'express';

/** Body of `POST /agent/step`: one model call the agent wants to make. */
export interface StepRequest {
  prompt: string;
  maxTokens: number;
}

/** Answer of `POST /agent/step`. */
export interface StepResponse {
  requestedMaxTokens: number;
  grantedMaxTokens: number;
  capped: boolean;
  inputTokens: number;
  outputTokens: number;
  costMicrocents: number;
}

/**
 * One guarded Bedrock call. The @cycles-guard/bedrock plugin had not landed when this demo was written,
 * so it uses core's `beginLlmCall` directly: reserve the worst case, clamp `maxTokens` to the grant,
 * stream, and commit the real usage from the stream's `metadata` event (or the partial usage on abort).
 */
async function guardedConverse(
  client: BedrockRuntimeClient,
  model: string,
  step: StepRequest,
): Promise<StepResponse> {
  const call = await currentCycles().beginLlmCall({
    model,
    input: step.prompt,
    maxOutputTokens: step.maxTokens,
  });
  const tracker = call.track();
  try {
    const output = await client.send(
      new ConverseStreamCommand({
        modelId: model,
        messages: [{ role: 'user', content: [{ text: step.prompt }] }],
        inferenceConfig: { maxTokens: call.maxOutputTokens },
      }),
      { abortSignal: call.signal },
    );
    let usage: { inputTokens: number; outputTokens: number } | undefined;
    for await (const event of output.stream ?? []) {
      const reported = event.metadata?.usage;
      if (reported !== undefined) {
        usage = { inputTokens: reported.inputTokens ?? 0, outputTokens: reported.outputTokens ?? 0 };
      }
    }
    // Without a usage report the tracker charges the whole hold rather than guessing low.
    const settlement = await tracker.finish(usage);
    return {
      requestedMaxTokens: call.requestedMaxOutputTokens,
      grantedMaxTokens: call.maxOutputTokens,
      capped: call.capped,
      inputTokens: usage?.inputTokens ?? call.inputTokens,
      outputTokens: usage?.outputTokens ?? call.maxOutputTokens,
      costMicrocents: settlement.status === 'committed' ? settlement.charged : 0,
    };
  } catch (error) {
    await tracker.error(error);
    throw error;
  }
}

/** The agent's backend: an Express app guarded per tenant (header `x-tenant`) by cycles-guard. */
export function createGuardedApp(cycles: Cycles, client: BedrockRuntimeClient, model: string): Express {
  const app = express();
  app.use(express.json({ limit: '1mb' }));
  app.use(cyclesMiddleware({ cycles, subject: (request) => ({ tenant: request.get('x-tenant') }) }));
  app.post('/agent/step', async (request, response) => {
    response.json(await guardedConverse(client, model, request.body as StepRequest));
  });
  app.use(cyclesErrorHandler());
  return app;
}
