import { asObject, type JsonObject } from '@cycles-guard/bedrock/wire';
import {
  type Action,
  type Cycles,
  CyclesError,
  currentBudget,
  currentCycles,
  InvalidRequestError,
  ModelNotPricedError,
  type Settlement,
  type Subject,
} from '@cycles-guard/core';
import {
  type EstimateInput,
  type LlmCallOptions,
  llmCallOutcome,
  type ServiceTier,
} from '@cycles-guard/core/llm';
import { BaseCallbackHandler } from '@langchain/core/callbacks/base';
import type { Serialized } from '@langchain/core/load/serializable';
import type { BaseMessage } from '@langchain/core/messages';
import type { LLMResult } from '@langchain/core/outputs';
import { cappedClient, type SdkClient } from './capped-client.ts';
import { type CyclesRunSettlement, GuardedRun } from './guarded-run.ts';
import { addLinkedRun, removeLinkedRun } from './linked-runs.ts';
import { markNotRetryable } from './not-retryable.ts';
import {
  messagesInput,
  modelIdOf,
  promptsInput,
  reasoningBudget,
  requestedMaxTokens,
  turnOf,
  usageOf,
} from './read-run.ts';
import { CAPPED_MODEL_METADATA_KEY, linkCallOptions, linkedRunId } from './run-link.ts';

/** Options of {@link CyclesCallbackHandler}. */
export interface CyclesCallbackHandlerOptions {
  /**
   * The Cycles instance that prices and holds each call.
   * @default the budget context's instance, else the process default (`currentCycles()`)
   */
  cycles?: Cycles;
  /**
   * Subject merged over the instance's and the budget context's subject.
   * @default the budget context's subject
   */
  subject?: Subject;
  /**
   * Model id to price, when the model's own name is not in the catalog (e.g. an application inference profile).
   * @default the run's `ls_model_name`
   */
  model?: string;
  /**
   * Action recorded with each reservation; agent turns add a `turn:<n>` tag.
   * @default `{ kind: 'llm.completion', name: <model id> }`
   */
  action?: Action;
  /**
   * Your own input-token count (e.g. a real tokenizer); makes the output cap hard.
   * @default a conservative estimate of the messages, system prompt and tool specs
   */
  inputTokens?: (input: EstimateInput, modelId: string) => number | Promise<number>;
  /** Called once per run when it settles (committed or released), e.g. to log spend per agent turn. */
  onSettled?: (settlement: CyclesRunSettlement) => void;
}

/**
 * Reserves before every LangChain model call (a budget that cannot pay vetoes it before any request
 * leaves), commits the call's `usage_metadata` when it ends and settles errors per the never-$0 rule.
 * Runs are keyed by run id, so parallel, nested and agent runs each settle exactly once. Add
 * {@link CyclesCallbackHandler.capClient} to a `ChatBedrockConverse` client so the request carries
 * the granted max tokens (see `guardChatModel`).
 */
export class CyclesCallbackHandler extends BaseCallbackHandler {
  name = 'CyclesCallbackHandler';
  readonly #options: CyclesCallbackHandlerOptions;
  readonly #runs = new Map<string, GuardedRun>();
  #capped = false;
  /** Given to every run (one function per handler, not a closure per run). */
  readonly #onSettling = (run: GuardedRun, settlement: Promise<Settlement>) =>
    this.#settling(run, settlement);

  constructor(options: CyclesCallbackHandlerOptions = {}) {
    // Awaited and raising: the reservation finishes before the request, and a denial reaches the caller.
    // Model events only: LangChain awaits an awaited handler on every chain and tool event too.
    super({
      raiseError: true,
      ignoreChain: true,
      ignoreAgent: true,
      ignoreRetriever: true,
      ignoreCustomEvent: true,
    });
    this.awaitHandlers = true;
    this.#options = options;
  }

  /** Runs reserved and not yet settled (0 once every call has ended). */
  get openRuns(): number {
    return this.#runs.size;
  }

  /**
   * A view of a `BedrockRuntimeClient` whose Converse calls carry the grants of this handler (and of
   * any other handler on the same call: the smallest wins):
   * `new ChatBedrockConverse({ client: handler.capClient(client) })`. The client itself is unchanged.
   * Converse calls through the view that no handler reserved for are refused.
   */
  capClient<Client extends SdkClient>(client: Client): Client {
    this.#capped = true;
    return cappedClient(client);
  }

  override handleChatModelStart(
    llm: Serialized,
    messages: BaseMessage[][],
    runId: string,
    parentRunId?: string,
    extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
  ): Promise<void> {
    let input: EstimateInput;
    try {
      // One prompt per run is the rule (invoke, stream, batch): no flattened copy of it.
      const all = messages.length === 1 ? (messages[0] as BaseMessage[]) : messages.flat();
      input = messagesInput(all, asObject(extraParams?.invocation_params));
    } catch (error) {
      return Promise.reject(error);
    }
    // #begin's promise is the answer: no async frame of its own on every call's path.
    return this.#begin(llm, input, runId, parentRunId, extraParams, metadata);
  }

  override async handleLLMStart(
    llm: Serialized,
    prompts: string[],
    runId: string,
    parentRunId?: string,
    extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
  ): Promise<void> {
    await this.#begin(llm, promptsInput(prompts), runId, parentRunId, extraParams, metadata);
  }

  // Returns the settlement itself (LangChain awaits it, the value is unused): no async frame of its own.
  override handleLLMEnd(
    output: LLMResult,
    runId: string,
    _parentRunId?: string,
    _tags?: string[],
    extraParams?: Record<string, unknown>,
  ): Promise<unknown> {
    const run = this.#runs.get(runId);
    if (run === undefined) return Promise.resolve();
    if (run.veto !== undefined) {
      this.#forget(run); // refused before any hold (e.g. then answered from LangChain's cache)
      return Promise.resolve();
    }
    try {
      // A cache hit never reached the provider.
      const settling = extraParams?.cached === true ? run.release('cache hit') : run.finish(usageOf(output));
      return settling ?? Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  override async handleLLMError(error: unknown, runId: string): Promise<void> {
    const run = this.#runs.get(runId);
    if (run?.veto !== undefined) {
      this.#forget(run); // its capped client refused it: nothing was held
      return;
    }
    // The caller gets the model's error; a settlement failure is reported through `onEvent`.
    await run?.fail(error)?.catch(() => {});
  }

  async #begin(
    llm: Serialized,
    input: EstimateInput,
    runId: string,
    parentRunId: string | undefined,
    extraParams: Record<string, unknown> | undefined,
    metadata: Record<string, unknown> | undefined,
  ): Promise<void> {
    // The same handler passed twice (constructor and call) sees each run twice: reserve once.
    if (this.#runs.has(runId)) return;
    const options = asObject(extraParams?.options);
    const turn = turnOf(metadata);
    // Runs of a guarded model, or of any model once this handler capped a client, are linked to
    // their requests (the link is taken out before sending, so an uncapped model never sends it).
    const guardedModel = metadata?.[CAPPED_MODEL_METADATA_KEY] === true;
    const linked = options !== undefined && (guardedModel || this.#capped);
    const viaCappedClient = linked && guardedModel;
    const run = new GuardedRun(runId, parentRunId, turn, viaCappedClient, this.#onSettling);
    this.#runs.set(runId, run);
    try {
      if (linked) this.#claim(options, run);
      const modelId = this.#options.model ?? modelIdOf(llm, metadata);
      if (modelId === undefined) {
        throw new ModelNotPricedError(
          'model: the LangChain run names no model id (no ls_model_name); set the handler option `model`',
        );
      }
      const params = asObject(extraParams?.invocation_params);
      const maxTokens = requestedMaxTokens(params);
      const reasoning = reasoningBudget(params);
      // No await unless something counts: every await is a hop on each call's hot path.
      const count = this.#options.inputTokens;
      const inputTokens = count === undefined ? undefined : await count(input, modelId);
      const signal = options?.signal instanceof AbortSignal ? options.signal : undefined;
      const action = this.#options.action ?? { kind: 'llm.completion', name: modelId };
      // Optional fields set only when present, without a spread per field (a hot path).
      const callOptions: LlmCallOptions = {
        model: modelId,
        input,
        action: turn === undefined ? action : { ...action, tags: [...(action.tags ?? []), `turn:${turn}`] },
      };
      if (inputTokens !== undefined) callOptions.inputTokens = inputTokens;
      if (maxTokens !== undefined) callOptions.maxOutputTokens = maxTokens;
      if (reasoning !== undefined) callOptions.reasoningBudgetTokens = reasoning;
      if (this.#options.subject !== undefined) callOptions.subject = this.#options.subject;
      if (signal !== undefined) callOptions.signal = signal;
      // ChatBedrockConverse's `serviceTier` (priority/flex/...) changes the price: hold and commit at it.
      const serviceTier = asObject(params?.serviceTier)?.type;
      if (typeof serviceTier === 'string')
        callOptions.dimensions = { serviceTier: serviceTier as ServiceTier };
      const call = await (this.#options.cycles ?? currentCycles()).beginLlmCall(callOptions);
      run.start(call);
      if (run.conflict !== undefined) throw run.conflict;
      // A budget-context abort (e.g. the HTTP client left) then also cancels the request itself.
      if (options !== undefined && signal === undefined && currentBudget()?.signal !== undefined) {
        options.signal = call.signal;
      }
    } catch (error) {
      await run.release(error)?.catch(() => {});
      markNotRetryable(error);
      // A capped model's run that got no hold: its capped client refuses the request with this error,
      // so the caller gets it as the model call's error (a raising handler is logged by LangChain with
      // console.error, and other handlers, e.g. tracers, would never see the run end).
      if (
        viaCappedClient &&
        run.call === undefined &&
        run.conflict === undefined &&
        CyclesError.isInstance(error)
      ) {
        run.veto = error;
        return;
      }
      this.#forget(run);
      throw error;
    }
  }

  /**
   * Tags the call options with the run; a second run on the same options fails both, before sending.
   * The tag itself tells which run claimed the options (one `generate()` with several prompts shares
   * them, and starts every run before any is sent): no per-call WeakMap entry.
   */
  #claim(options: JsonObject, run: GuardedRun): void {
    const claimedBy = linkedRunId(options);
    const other = claimedBy === undefined ? undefined : this.#runs.get(claimedBy);
    if (other !== undefined && other.runId !== run.runId) {
      const conflict = new InvalidRequestError(
        'messages: one generate() call with several prompts shares its call options, so the cap cannot ' +
          'tell their requests apart; call invoke() or batch() once per prompt',
        { details: { field: 'messages' } },
      );
      other.conflict = conflict;
      run.conflict = conflict;
      void other.release(conflict)?.catch(() => {});
      throw conflict;
    }
    linkCallOptions(options, run.runId);
    addLinkedRun(run);
  }

  #forget(run: GuardedRun): void {
    this.#runs.delete(run.runId);
    removeLinkedRun(run);
  }

  #settling(run: GuardedRun, settlement: Promise<Settlement>): void {
    this.#forget(run);
    const onSettled = this.#options.onSettled;
    const call = run.call;
    if (onSettled === undefined || call === undefined) return;
    settlement.then(
      (result) =>
        onSettled({
          ...llmCallOutcome(call, result),
          runId: run.runId,
          parentRunId: run.parentRunId,
          turn: run.turn,
          usage: result.status === 'committed' ? run.chargedUsage : undefined,
          settlement: result,
        }),
      () => {},
    );
  }
}
