import { InvalidRequestError, type LlmCall, type TokenUsage } from '@cycles-guard/core';
import type { GuardedRun } from './guarded-run.ts';
import { markNotRetryable } from './not-retryable.ts';
import { unlinkRequest } from './run-link.ts';

type JsonObject = Record<string, unknown>;

/** The slice of an AWS SDK v3 initialize-step middleware this package uses (no SDK dependency). */
export type CapMiddleware = (
  next: (args: { input: object }) => Promise<{ output: object }>,
  context: { commandName?: string },
) => (args: { input: object }) => Promise<{ output: object }>;

/** The slice of a `BedrockRuntimeClient.middlewareStack` the cap is added to. */
export interface MiddlewareStackLike {
  add(
    middleware: CapMiddleware,
    options: { step: 'initialize'; name: string; override: boolean; tags: string[] },
  ): void;
}

/** A value for `client.middlewareStack.use(...)`. */
export interface CapPlugin {
  applyToStack(stack: MiddlewareStackLike): void;
}

/** Name of the initialize-step middleware (one per client; adding it again replaces it). */
export const CAP_MIDDLEWARE_NAME = 'cyclesLangchainCap';

const CONVERSE = new Set(['ConverseCommand', 'ConverseStreamCommand']);

function asObject(value: unknown): JsonObject | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as JsonObject)
    : undefined;
}

function asCount(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/**
 * Applies the grant to the Converse input: `inferenceConfig.maxTokens` and any thinking budget.
 * `input` is the cap's own copy (made by `unlinkRequest`), so it is written in place; the objects
 * under it are the caller's and are copied.
 */
function applyGrant(input: JsonObject, call: LlmCall): JsonObject {
  input.inferenceConfig = { ...asObject(input.inferenceConfig), maxTokens: call.maxOutputTokens };
  const budget = call.reasoningBudgetTokens;
  const fields = asObject(input.additionalModelRequestFields);
  if (fields === undefined || budget === undefined) return input;
  const copy: JsonObject = { ...fields };
  const thinking = asObject(fields.thinking);
  if (thinking !== undefined && 'budget_tokens' in thinking)
    copy.thinking = { ...thinking, budget_tokens: budget };
  for (const key of ['reasoning_config', 'reasoningConfig']) {
    const reasoning = asObject(fields[key]);
    if (reasoning === undefined) continue;
    const field = 'budget_tokens' in reasoning ? 'budget_tokens' : 'budgetTokens';
    if (field in reasoning) copy[key] = { ...reasoning, [field]: budget };
  }
  input.additionalModelRequestFields = copy;
  return input;
}

/** Converse stream `metadata.usage` (camelCase) as core usage. */
function streamUsage(event: unknown): TokenUsage | undefined {
  const usage = asObject(asObject(asObject(event)?.metadata)?.usage);
  const inputTokens = asCount(usage?.inputTokens);
  const outputTokens = asCount(usage?.outputTokens);
  if (inputTokens === undefined || outputTokens === undefined) return undefined;
  const cacheRead = asCount(usage?.cacheReadInputTokens);
  const cacheWrite = asCount(usage?.cacheWriteInputTokens);
  return {
    inputTokens,
    outputTokens,
    ...(cacheRead === undefined ? {} : { cacheReadInputTokens: cacheRead }),
    ...(cacheWrite === undefined ? {} : { cacheWriteInputTokens: cacheWrite }),
  };
}

/**
 * Bedrock bills nothing for a refused request (4xx such as throttling or validation, 503) or one that
 * got no response at all; anything else, or an abort, may have been billed.
 */
function refusedByBedrock(error: unknown, call: LlmCall): boolean {
  const status = asObject(asObject(error)?.$metadata)?.httpStatusCode;
  if (typeof status === 'number') return (status >= 400 && status < 500) || status === 503;
  return !call.signal.aborted && asObject(error)?.name !== 'AbortError';
}

/**
 * Records usage as a stream reports it; a stream abandoned before its end (consumer `break`, early
 * return) is settled here, because LangChain then calls neither handleLLMEnd nor handleLLMError.
 */
async function* watchStream(stream: AsyncIterable<unknown>, run: GuardedRun): AsyncGenerator<unknown> {
  let ended = false;
  try {
    for await (const event of stream) {
      const usage = streamUsage(event);
      if (usage !== undefined) run.partialUsage = usage;
      yield event;
    }
    ended = true;
  } catch (error) {
    ended = true; // LangChain reports it to handleLLMError, which settles.
    throw error;
  } finally {
    if (!ended) await run.fail(new Error('stream abandoned before its end'))?.catch(() => {});
  }
}

/**
 * The initialize-step middleware: finds the run that reserved for this Converse request, sends the
 * granted max tokens, and notes whether the request was refused. A Converse request with no reserved
 * run is refused before it leaves (fail closed).
 */
export function capMiddleware(findRun: (runId: string) => GuardedRun | undefined): CapMiddleware {
  return (next, context) => async (args) => {
    if (!CONVERSE.has(context.commandName ?? '')) return next(args);
    const { runId, input } = unlinkRequest(args.input as JsonObject);
    const run = runId === undefined ? undefined : findRun(runId);
    const call = run?.call;
    if (run === undefined || call === undefined || run.settled) {
      const error = new InvalidRequestError(
        'callbacks: this Bedrock client is capped by a CyclesCallbackHandler, but no reservation of that ' +
          'handler covers this Converse call. Pass `callbacks: [handler]` to the model or the call ' +
          '(the same handler whose capPlugin() is on this client), or use a client without the cap.',
        { details: { field: 'callbacks', runId } },
      );
      markNotRetryable(error);
      throw error;
    }
    run.sent = true;
    let result: Awaited<ReturnType<typeof next>>;
    try {
      result = await next({ ...args, input: applyGrant(input, call) });
    } catch (error) {
      run.refused = refusedByBedrock(error, call);
      throw error;
    }
    const output = result.output as JsonObject;
    if (context.commandName === 'ConverseStreamCommand' && output.stream !== undefined) {
      output.stream = watchStream(output.stream as AsyncIterable<unknown>, run);
    }
    return result;
  };
}
