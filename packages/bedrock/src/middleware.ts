import type {
  CountTokensCommandInput,
  CountTokensCommandOutput,
  ServiceInputTypes,
  ServiceOutputTypes,
} from '@aws-sdk/client-bedrock-runtime';
import { CountTokensCommand } from '@aws-sdk/client-bedrock-runtime';
import {
  type Action,
  type Cycles,
  currentCycles,
  InvalidRequestError,
  type LlmCallOutcome,
  type Subject,
} from '@cycles-guard/core';
import {
  chargedBy,
  type EstimateInput,
  type LlmCallOptions,
  llmCallOutcome,
  normalizeModelId,
  StreamSettler,
} from '@cycles-guard/core/llm';
import type { InitializeHandlerOptions, InitializeMiddleware } from '@smithy/types';
import { requestDimensions } from './dimensions.ts';
import {
  canAbortBeforeResponse,
  destroyBody,
  type GuardState,
  raceAbort,
  recordResponse,
  responseHeaders,
  STATE,
} from './response.ts';
import { guardStream, recordCharge } from './streams.ts';
import { unbilledBedrockFailure } from './wire/billing.ts';
import { clampConverse, converseUsage, type RequestLimits, readConverse } from './wire/converse.ts';
import { clampInvokeBody, headerUsage, invokeBodyUsage, readInvokeBody } from './wire/invoke-bodies.ts';
import { asObject, encodeLike, type JsonObject, parseJsonObject, typeName } from './wire/json.ts';
import { feedConverseEvent, feedInvokeChunk } from './wire/stream-events.ts';

/** Sends CountTokens; a `BedrockRuntimeClient` fits. */
export interface CountTokensSender {
  send(command: CountTokensCommand): Promise<CountTokensCommandOutput>;
}

/** Options of {@link cyclesBedrockPlugin} and {@link cyclesBedrockMiddleware}. */
export interface CyclesBedrockOptions {
  /**
   * The Cycles instance that prices and holds each call.
   * @default the budget context's instance, else the process default (`currentCycles()`)
   */
  cycles?: Cycles;
  /**
   * Subject merged over the budget context's subject (later levels win).
   * @default the budget context's subject
   */
  subject?: Subject;
  /**
   * Counts input tokens exactly with a `CountTokensCommand` before each call (one extra round trip;
   * makes the output cap hard). Needs `client` (set for you by `createGuardedBedrockClient`).
   * @default false (a conservative estimate of the request's text)
   */
  countTokens?: boolean;
  /**
   * Client that sends the CountTokens request. CountTokens is never guarded itself.
   * @default undefined
   */
  client?: CountTokensSender;
  /**
   * Your own input-token count (e.g. a real tokenizer); wins over `countTokens` and the estimate.
   * @default undefined
   */
  inputTokens?: (input: EstimateInput, modelId: string) => number | Promise<number>;
  /**
   * Action recorded with each reservation.
   * @default `{ kind: 'llm.completion', name: <model id> }`
   */
  action?: Action;
  /**
   * Source region of the client's requests, for region-specific prices (a foundation-model ARN's
   * region wins). `createGuardedBedrockClient` sets it from a string `region` in the client config.
   * @default undefined (the catalog's default, us-east-1, rates)
   */
  region?: string;
  /**
   * Maps an application inference profile ARN (whose model is not in the id) to the model it runs,
   * e.g. `createInferenceProfileResolver()`. Without it such ARNs must be mapped with
   * `createCycles({ inferenceProfiles })`, or they are refused (MODEL_NOT_PRICED).
   * @default undefined
   */
  resolveInferenceProfile?: (profileArn: string) => string | Promise<string>;
}

const GUARDED = new Set([
  'ConverseCommand',
  'ConverseStreamCommand',
  'InvokeModelCommand',
  'InvokeModelWithResponseStreamCommand',
]);

/** Names, step and tags of the initialize-step middleware. */
export const cyclesBedrockMiddlewareOptions: InitializeHandlerOptions & { name: string; override: true } = {
  name: 'cyclesBedrockMiddleware',
  step: 'initialize',
  tags: ['CYCLES', 'BUDGET'],
  override: true,
};

/** The process of one guarded call: price, hold, clamp, send, settle. */
export function cyclesBedrockMiddleware(
  options: CyclesBedrockOptions = {},
): InitializeMiddleware<ServiceInputTypes, ServiceOutputTypes> {
  return guardMiddleware(options, true);
}

/**
 * {@link cyclesBedrockMiddleware}; with `shareState` false (the plain plugin, which adds no
 * deserialize-step companion to read it) the SDK's context is left as it was: a property added there
 * at the first step gives the context every later middleware reads another shape.
 */
export function guardMiddleware(
  options: CyclesBedrockOptions,
  shareState: boolean,
): InitializeMiddleware<ServiceInputTypes, ServiceOutputTypes> {
  return (next, context) => async (args) => {
    const command = context.commandName ?? '';
    if (!GUARDED.has(command)) return next(args);
    const input = args.input as unknown as JsonObject;
    const cycles = options.cycles ?? currentCycles();
    if (typeof input.modelId !== 'string' || input.modelId === '') {
      throw new InvalidRequestError(`modelId must be a non-empty string, got ${typeName(input.modelId)}`, {
        details: { field: 'modelId' },
      });
    }
    const requestedId = input.modelId;
    const modelId =
      options.resolveInferenceProfile !== undefined && normalizeModelId(requestedId).applicationProfile
        ? await options.resolveInferenceProfile(requestedId)
        : requestedId;
    const converse = command.startsWith('Converse');
    const body = converse ? undefined : parseJsonObject(input.body);
    const dimensions = requestDimensions(input, body, options.region);
    // Unknown models throw ModelNotPricedError here, before any byte leaves.
    const model = cycles.catalog.resolve(modelId, dimensions);
    const limits: RequestLimits = converse ? readConverse(input) : readInvokeBody(model.family, body ?? {});
    // No await unless something counts: every await is a hop on each call's hot path.
    const inputTokens =
      options.inputTokens === undefined && options.countTokens !== true
        ? undefined
        : await countInput(options, modelId, limits.input, converse ? input : undefined, input.body);
    // Optional fields set only when present, without a spread per field (a hot path).
    const callOptions: LlmCallOptions = { model: modelId, input: limits.input };
    if (inputTokens !== undefined) callOptions.inputTokens = inputTokens;
    if (limits.maxTokens !== undefined) callOptions.maxOutputTokens = limits.maxTokens;
    if (limits.reasoningBudgetTokens !== undefined)
      callOptions.reasoningBudgetTokens = limits.reasoningBudgetTokens;
    if (options.subject !== undefined) callOptions.subject = options.subject;
    if (options.action !== undefined) callOptions.action = options.action;
    if (dimensions !== undefined) callOptions.dimensions = dimensions;
    const call = await cycles.beginLlmCall(callOptions);
    const stream = command === 'ConverseStreamCommand' || command === 'InvokeModelWithResponseStreamCommand';
    // A stream is read by guardStream from its first byte: every output delta passes through it.
    const settler = new StreamSettler(call, { seesEveryDelta: stream });
    const outcome = llmCallOutcome(call);
    const granted = call.maxOutputTokens;
    const reasoning = call.reasoningBudgetTokens;
    // Always send the grant: with no limit Bedrock would allow the model's maximum.
    const clamped = converse
      ? clampConverse(input, granted, reasoning)
      : {
          ...input,
          body: encodeLike(input.body, clampInvokeBody(model.family, body ?? {}, granted, reasoning)),
        };
    const state: GuardState = { call };
    if (shareState) context[STATE] = state;

    let result: Awaited<ReturnType<typeof next>>;
    const sent = clamped === input ? args : { ...args, input: clamped as unknown as ServiceInputTypes };
    try {
      result = await (canAbortBeforeResponse(call) ? raceAbort(() => next(sent), call) : next(sent));
    } catch (error) {
      await settleFailure(settler, outcome, state, error);
      throw error;
    }
    recordResponse(state, result, stream);
    const output = result.output as unknown as JsonObject;
    Object.defineProperty(output, 'cycles', { value: outcome, enumerable: false, configurable: true });

    if (command === 'ConverseStreamCommand' && isAsyncIterable(output.stream)) {
      output.stream = guardStream(output.stream, settler, feedConverseEvent, closeOf(state), outcome);
    } else if (command === 'InvokeModelWithResponseStreamCommand' && isAsyncIterable(output.body)) {
      const family = model.family;
      const feed = (target: StreamSettler, event: unknown) => feedInvokeChunk(family, target, event);
      output.body = guardStream(output.body, settler, feed, closeOf(state), outcome);
    } else if (command === 'ConverseCommand') {
      // Inline rather than recordCharge: no async frame of its own on the most common command.
      outcome.charged = chargedBy(await settler.finish(converseUsage(output.usage)));
    } else if (command === 'InvokeModelCommand') {
      const usage =
        invokeBodyUsage(model.family, parseJsonObject(blobBytes(output.body))) ??
        headerUsage(responseHeaders(state));
      await recordCharge(outcome, settler.finish(usage));
    } else {
      // A stream without a body: bytes flowed, usage unknown (the hold).
      await recordCharge(outcome, settler.error(new Error(`${command} answered without a stream`)));
    }
    return result;
  };
}

/** Closes a stream's connection (made for streams only: a closure per call is work a Converse call skips). */
function closeOf(state: GuardState): () => void {
  return () => destroyBody(state.response?.body);
}

/** Settles a call whose send threw: released only when certainly unbilled (and not our own abort). */
async function settleFailure(
  settler: StreamSettler,
  outcome: LlmCallOutcome,
  state: GuardState,
  error: unknown,
): Promise<void> {
  const unbilled = !state.call.aborted && unbilledBedrockFailure(error, state.response?.statusCode);
  await recordCharge(outcome, settler.error(error, { reachedProvider: !unbilled })).catch(() => {});
}

async function countInput(
  options: CyclesBedrockOptions,
  modelId: string,
  estimate: EstimateInput,
  converseInput: JsonObject | undefined,
  invokeBody: unknown,
): Promise<number | undefined> {
  if (options.inputTokens !== undefined) return options.inputTokens(estimate, modelId);
  if (options.countTokens !== true) return undefined;
  if (options.client === undefined)
    throw new TypeError('cyclesBedrockPlugin: countTokens needs the `client` option');
  const countInputRequest = (
    converseInput === undefined
      ? {
          invokeModel: {
            body: typeof invokeBody === 'string' ? new TextEncoder().encode(invokeBody) : invokeBody,
          },
        }
      : {
          converse: {
            messages: converseInput.messages,
            system: converseInput.system,
            toolConfig: converseInput.toolConfig,
            additionalModelRequestFields: converseInput.additionalModelRequestFields,
          },
        }
  ) as CountTokensCommandInput['input'];
  const counted = await options.client.send(new CountTokensCommand({ modelId, input: countInputRequest }));
  return counted.inputTokens;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

function blobBytes(body: unknown): Uint8Array | undefined {
  return body instanceof Uint8Array ? body : undefined;
}

/** What the guard did to a call, from a command's output (undefined when the call was not guarded). */
export function getCyclesResult(output: unknown): LlmCallOutcome | undefined {
  const value = asObject(output)?.cycles;
  return asObject(value) === undefined ? undefined : (value as LlmCallOutcome);
}
