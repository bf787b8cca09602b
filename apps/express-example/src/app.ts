import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import type { Cycles } from '@cycles-guard/core';
import {
  ChatRequestError,
  chat,
  parseChatRequest,
  startChatStream,
  tenantAlerts,
  tenantBalances,
} from '@cycles-guard/example-chat';
import { cyclesErrorHandler, cyclesMiddleware } from '@cycles-guard/express';
import express, { type ErrorRequestHandler, type Express } from 'express';
import { authenticate, tenantOf } from './api-keys.ts';
import { answerBedrockErrors } from './bedrock-errors.ts';

export interface ChatAppOptions {
  /** Template budgets (`createTenantBudgets` of `@cycles-guard/example-chat`). */
  cycles: Cycles;
  /** A client carrying the cycles-guard Bedrock plugin. */
  bedrock: BedrockRuntimeClient;
  modelId: string;
  apiKeys: ReadonlyMap<string, string>;
}

const answerBadRequests: ErrorRequestHandler = (error, _request, response, next) => {
  if (!(error instanceof ChatRequestError) || response.headersSent) return next(error);
  response.status(400).json({ error: 'INVALID_REQUEST', field: error.field, message: error.message });
};

/**
 * The chat API: `POST /chat` (JSON), `GET /chat/stream` (SSE), `GET /balances` and `GET /alerts`. Each request runs in
 * the budget of the tenant behind its API key, so the Bedrock plugin charges that tenant.
 */
export function createChatApp({ cycles, bedrock, modelId, apiKeys }: ChatAppOptions): Express {
  const app = express();
  app.use(express.json());
  app.use(authenticate(apiKeys));
  app.use(cyclesMiddleware({ cycles, subject: (request) => ({ tenant: tenantOf(request) }) }));

  app.post('/chat', async (request, response) => {
    const result = await chat(bedrock, modelId, parseChatRequest(request.body));
    response.json({ tenant: tenantOf(request), model: modelId, ...result });
  });

  app.get('/chat/stream', async (request, response) => {
    // Started before any byte is written, so a denial is still answered 429 by cyclesErrorHandler.
    const stream = await startChatStream(bedrock, modelId, parseChatRequest(request.query));
    response.set({ 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' }).flushHeaders();
    try {
      for await (const text of stream.deltas)
        response.write(`event: delta\ndata: ${JSON.stringify({ text })}\n\n`);
      const { reply: _reply, ...summary } = stream.result();
      response.end(`event: done\ndata: ${JSON.stringify(summary)}\n\n`);
    } catch (error) {
      // The client left (the plugin aborted Bedrock and committed the partial usage) or Bedrock failed.
      if (!response.writableEnded)
        response.end(`event: error\ndata: ${JSON.stringify({ message: String(error) })}\n\n`);
    }
  });

  app.get('/balances', async (request, response) => {
    const tenant = tenantOf(request)!;
    response.json({ tenant, balances: await tenantBalances(cycles, tenant) });
  });

  // The budget alerts (80 %, 95 %, exhausted) the ledger raised for this tenant, newest first.
  app.get('/alerts', async (request, response) => {
    const tenant = tenantOf(request)!;
    response.json({ tenant, alerts: await tenantAlerts(cycles, tenant) });
  });

  app.use(answerBadRequests);
  app.use(cyclesErrorHandler());
  app.use(answerBedrockErrors);
  return app;
}
