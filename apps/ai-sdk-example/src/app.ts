import { withRunBudget } from '@cycles-guard/ai-sdk';
import { type Cycles, createCycles, currentBudget } from '@cycles-guard/core';
import { cyclesErrorHandler, cyclesMiddleware } from '@cycles-guard/express';
import { type LanguageModel, type ModelMessage, stepCountIs, streamText } from 'ai';
import express, { type ErrorRequestHandler, type Express } from 'express';
import { authenticate, tenantOf } from './api-keys.ts';
import { writeChatEvents } from './sse-chat.ts';
import { chatTools } from './tools.ts';

/**
 * Budgets created on first use: each tenant gets `daily` per day, and each chat request's agent loop
 * (`tenant:<t>/workflow:<request id>`) at most `run`, whatever its steps do (`withRunBudget` removes
 * that run ledger when the request ends).
 */
export function createBudgets(dailyMicrocents: number, runMicrocents: number): Cycles {
  return createCycles({
    templates: [
      { pattern: 'tenant:*', unit: 'USD_MICROCENTS', allocated: dailyMicrocents, window: { period: 'day' } },
      { pattern: 'tenant:*/workflow:*', unit: 'USD_MICROCENTS', allocated: runMicrocents },
    ],
  });
}

/** A request body the chat cannot use; answered 400 naming the field. */
export class ChatRequestError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

function parseMessages(body: unknown): ModelMessage[] {
  const { prompt, messages } = (body ?? {}) as { prompt?: unknown; messages?: unknown };
  if (typeof prompt === 'string' && prompt.trim() !== '') return [{ role: 'user', content: prompt }];
  if (
    Array.isArray(messages) &&
    messages.length > 0 &&
    messages.every(
      (message) =>
        (message?.role === 'user' || message?.role === 'assistant') && typeof message.content === 'string',
    )
  ) {
    return messages as ModelMessage[];
  }
  throw new ChatRequestError(
    'prompt',
    'send { "prompt": "..." } or { "messages": [{ "role": "user", "content": "..." }] }',
  );
}

const answerBadRequests: ErrorRequestHandler = (error, _request, response, next) => {
  if (!(error instanceof ChatRequestError) || response.headersSent) return next(error);
  response.status(400).json({ error: 'INVALID_REQUEST', field: error.field, message: error.message });
};

/**
 * `POST /chat` streams an agent loop with tools as server-sent events; `GET /balances` shows the
 * tenant's budget. The tenant is the one behind the request's API key (`x-api-key`), never a value the
 * client chooses: each new tenant would get a fresh template budget.
 */
export function createChatApp({
  cycles,
  model,
  apiKeys,
}: {
  cycles: Cycles;
  model: LanguageModel;
  apiKeys: ReadonlyMap<string, string>;
}): Express {
  const app = express();
  app.use(express.json());
  app.use(authenticate(apiKeys));
  app.use(cyclesMiddleware({ cycles, subject: (request) => ({ tenant: tenantOf(request) }) }));

  app.post('/chat', async (request, response) => {
    const messages = parseMessages(request.body);
    await withRunBudget({ cycles }, async () => {
      const result = streamText({
        model,
        messages,
        tools: chatTools,
        stopWhen: stepCountIs(5),
        maxOutputTokens: 1024,
        // The client leaving aborts this signal (the Express adapter): the loop and Bedrock stop.
        abortSignal: currentBudget()?.signal,
        onError: () => {}, // errors are written as `error` events
      });
      await writeChatEvents(result, response);
    });
  });

  app.get('/balances', async (request, response) => {
    const tenant = tenantOf(request)!;
    const { balances } = await cycles.authority.getBalances({ tenant });
    response.json({
      tenant,
      balances: balances.map((balance) => ({
        scope: balance.scopePath,
        allocated: balance.allocated?.amount,
        spent: balance.spent?.amount,
        reserved: balance.reserved?.amount,
        remaining: balance.remaining.amount,
      })),
    });
  });

  app.use(answerBadRequests);
  app.use(cyclesErrorHandler());
  return app;
}
