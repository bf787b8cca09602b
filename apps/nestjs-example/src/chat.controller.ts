import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import {
  type BalanceView,
  type ChatRequest,
  ChatRequestError,
  type ChatResult,
  chat,
  parseChatRequest,
  startChatStream,
  toBalanceView,
} from '@cycles-guard/example-chat';
import { CyclesService } from '@cycles-guard/nestjs';
import {
  BadRequestException,
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  type MessageEvent,
  Post,
  Query,
  Req,
  Sse,
} from '@nestjs/common';
import { Observable } from 'rxjs';
import { tenantOf } from './api-key.guard.ts';

/** The Bedrock client (with the cycles-guard plugin) and model, provided by `ChatModule.register`. */
export const BEDROCK = Symbol('BEDROCK');

export interface BedrockTarget {
  client: BedrockRuntimeClient;
  modelId: string;
}

function parse(input: unknown): ChatRequest {
  try {
    return parseChatRequest(input);
  } catch (error) {
    if (!(error instanceof ChatRequestError)) throw error;
    throw new BadRequestException({ error: 'INVALID_REQUEST', field: error.field, message: error.message });
  }
}

/**
 * `POST /chat` (JSON), `GET /chat/stream` (SSE) and `GET /balances`. The global CyclesInterceptor runs
 * each handler in the budget of the tenant behind its API key, so the Bedrock plugin charges that tenant.
 */
@Controller()
export class ChatController {
  constructor(
    @Inject(BEDROCK) private readonly bedrock: BedrockTarget,
    @Inject(CyclesService) private readonly cycles: CyclesService,
  ) {}

  @Post('chat')
  @HttpCode(200)
  async chat(
    @Body() body: unknown,
    @Req() request: unknown,
  ): Promise<{ tenant: string | undefined; model: string } & ChatResult> {
    const result = await chat(this.bedrock.client, this.bedrock.modelId, parse(body));
    return { tenant: tenantOf(request), model: this.bedrock.modelId, ...result };
  }

  /**
   * Starts the Bedrock stream before returning the Observable: a budget denial rejects before any event
   * is written, so CyclesExceptionFilter still answers 429. When the client leaves, the interceptor's
   * signal aborts the Bedrock call and the plugin commits what it used.
   */
  @Sse('chat/stream')
  async stream(@Query() query: unknown): Promise<Observable<MessageEvent>> {
    const stream = await startChatStream(this.bedrock.client, this.bedrock.modelId, parse(query));
    return new Observable<MessageEvent>((subscriber) => {
      void (async () => {
        try {
          for await (const text of stream.deltas) subscriber.next({ type: 'delta', data: { text } });
          const { reply: _reply, ...summary } = stream.result();
          subscriber.next({ type: 'done', data: summary });
          subscriber.complete();
        } catch (error) {
          // Bedrock failed mid-stream (the guard settled the call) or the client left (then nobody listens).
          subscriber.next({ type: 'error', data: { message: String(error) } });
          subscriber.complete();
        }
      })();
    });
  }

  @Get('balances')
  async balances(@Req() request: unknown): Promise<{ tenant: string | undefined; balances: BalanceView[] }> {
    // CyclesService reads the balances of the request's subject (its tenant) from the ledger.
    const balances = await this.cycles.getBalances();
    return { tenant: tenantOf(request), balances: balances.map((balance) => toBalanceView(balance)) };
  }
}
