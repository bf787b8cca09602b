import {
  type BedrockRuntimeClient,
  ConverseCommand,
  type ConverseCommandInput,
  ConverseStreamCommand,
} from '@aws-sdk/client-bedrock-runtime';
import { getCyclesResult } from '@cycles-guard/bedrock';

/** A chat turn as the API accepts it. */
export interface ChatRequest {
  message: string;
  /** Output tokens asked for; the budget guard may grant fewer. */
  maxTokens: number;
}

/** What one chat turn produced and what the budget guard did with it. */
export interface ChatResult {
  reply: string;
  stopReason: string | undefined;
  usage: { inputTokens: number; outputTokens: number };
  budget: {
    chargedMicrocents: number | undefined;
    requestedMaxTokens: number | undefined;
    grantedMaxTokens: number | undefined;
    capped: boolean;
  };
}

/** A request field the API cannot use; answered 400. */
export class ChatRequestError extends Error {
  readonly status = 400;
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'ChatRequestError';
  }
}

const DEFAULT_MAX_TOKENS = 512;
const MAX_MESSAGE_CHARS = 20_000;

/** Validates `{ message, maxTokens? }` from a JSON body or a query string. */
export function parseChatRequest(input: unknown): ChatRequest {
  const fields = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  const message = fields.message;
  if (typeof message !== 'string' || message.trim() === '' || message.length > MAX_MESSAGE_CHARS) {
    throw new ChatRequestError(
      'message',
      `message must be a non-empty string of at most ${MAX_MESSAGE_CHARS} characters`,
    );
  }
  const rawMax = fields.maxTokens ?? DEFAULT_MAX_TOKENS;
  const maxTokens = typeof rawMax === 'string' && /^\d+$/.test(rawMax) ? Number(rawMax) : rawMax;
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > 8_192) {
    throw new ChatRequestError('maxTokens', 'maxTokens must be an integer from 1 to 8192 (default 512)');
  }
  return { message, maxTokens };
}

function converseInput(modelId: string, request: ChatRequest): ConverseCommandInput {
  return {
    modelId,
    messages: [{ role: 'user', content: [{ text: request.message }] }],
    inferenceConfig: { maxTokens: request.maxTokens },
  };
}

function budgetOf(output: unknown): ChatResult['budget'] {
  const guard = getCyclesResult(output);
  return {
    chargedMicrocents: guard?.charged,
    requestedMaxTokens: guard?.requestedMaxOutputTokens,
    grantedMaxTokens: guard?.grantedMaxOutputTokens,
    capped: guard?.capped ?? false,
  };
}

/** One Converse call. A budget denial is thrown before anything is sent to Bedrock. */
export async function chat(
  client: BedrockRuntimeClient,
  modelId: string,
  request: ChatRequest,
): Promise<ChatResult> {
  const output = await client.send(new ConverseCommand(converseInput(modelId, request)));
  const reply = (output.output?.message?.content ?? []).map((block) => block.text ?? '').join('');
  return {
    reply,
    stopReason: output.stopReason,
    usage: { inputTokens: output.usage?.inputTokens ?? 0, outputTokens: output.usage?.outputTokens ?? 0 },
    budget: budgetOf(output),
  };
}

/** A started ConverseStream: text deltas, then the result once they are consumed. */
export interface ChatStream {
  deltas: AsyncIterable<string>;
  /** Valid after `deltas` ended; the guard has settled the call by then. */
  result(): ChatResult;
}

/**
 * Starts a ConverseStream call. Resolves once Bedrock answered, so a budget denial rejects here, before
 * the caller commits to a streamed response.
 */
export async function startChatStream(
  client: BedrockRuntimeClient,
  modelId: string,
  request: ChatRequest,
): Promise<ChatStream> {
  const output = await client.send(new ConverseStreamCommand(converseInput(modelId, request)));
  let reply = '';
  let stopReason: string | undefined;
  const usage = { inputTokens: 0, outputTokens: 0 };
  async function* deltas(): AsyncGenerator<string> {
    for await (const event of output.stream ?? []) {
      const text = event.contentBlockDelta?.delta?.text;
      if (text !== undefined) {
        reply += text;
        yield text;
      }
      stopReason = event.messageStop?.stopReason ?? stopReason;
      usage.inputTokens = event.metadata?.usage?.inputTokens ?? usage.inputTokens;
      usage.outputTokens = event.metadata?.usage?.outputTokens ?? usage.outputTokens;
    }
  }
  return { deltas: deltas(), result: () => ({ reply, stopReason, usage, budget: budgetOf(output) }) };
}
