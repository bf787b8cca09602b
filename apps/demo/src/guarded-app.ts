import { type BedrockRuntimeClient, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { getCyclesResult } from '@cycles-guard/bedrock';
import type { Cycles } from '@cycles-guard/core';
import { cyclesErrorHandler, cyclesMiddleware } from '@cycles-guard/express';
import express, { type Express, type Request } from 'express';

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
 * One Bedrock call. The client carries `cyclesBedrockPlugin`, which reserves the worst case in the
 * request's budget context, clamps `maxTokens` to the grant, aborts with the context's signal and
 * commits the real usage when the stream ends.
 */
async function converse(
  client: BedrockRuntimeClient,
  model: string,
  step: StepRequest,
): Promise<StepResponse> {
  const output = await client.send(
    new ConverseStreamCommand({
      modelId: model,
      messages: [{ role: 'user', content: [{ text: step.prompt }] }],
      inferenceConfig: { maxTokens: step.maxTokens },
    }),
  );
  let usage = { inputTokens: 0, outputTokens: 0 };
  for await (const event of output.stream ?? []) {
    const reported = event.metadata?.usage;
    if (reported !== undefined) {
      usage = { inputTokens: reported.inputTokens ?? 0, outputTokens: reported.outputTokens ?? 0 };
    }
  }
  const guard = getCyclesResult(output);
  return {
    requestedMaxTokens: guard?.requestedMaxOutputTokens ?? step.maxTokens,
    grantedMaxTokens: guard?.grantedMaxOutputTokens ?? step.maxTokens,
    capped: guard?.capped ?? false,
    ...usage,
    costMicrocents: guard?.charged ?? -1,
  };
}

/** The agent's API key (the demo's only tenant is `acme`). */
export const DEMO_API_KEY = 'demo-agent-key';
const TENANT_BY_KEY: ReadonlyMap<string, string> = new Map([[DEMO_API_KEY, 'acme']]);

/**
 * The agent's backend: an Express app guarded per tenant by cycles-guard. The tenant is the one behind
 * the `x-api-key` header (401 otherwise), never a value the client picks: each new value would get a
 * fresh template budget.
 */
export function createGuardedApp(cycles: Cycles, client: BedrockRuntimeClient, model: string): Express {
  const app = express();
  app.use(express.json({ limit: '1mb' }));
  const tenantOf = (request: Request) => TENANT_BY_KEY.get(request.get('x-api-key') ?? '');
  app.use((request, response, next) => {
    if (tenantOf(request) === undefined) response.status(401).json({ error: 'UNAUTHORIZED' });
    else next();
  });
  app.use(cyclesMiddleware({ cycles, subject: (request) => ({ tenant: tenantOf(request) }) }));
  app.post('/agent/step', async (request, response) => {
    response.json(await converse(client, model, request.body as StepRequest));
  });
  app.use(cyclesErrorHandler());
  return app;
}
