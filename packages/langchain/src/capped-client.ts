import {
  asObject,
  clampConverse,
  converseUsage,
  type JsonObject,
  unbilledBedrockFailure,
} from '@cycles-guard/bedrock/wire';
import { InvalidRequestError } from '@cycles-guard/core';
import type { LlmCall } from '@cycles-guard/core/llm';
import type { GuardedRun } from './guarded-run.ts';
import { linkedRuns } from './linked-runs.ts';
import { markNotRetryable } from './not-retryable.ts';
import { unlinkRequest } from './run-link.ts';

/** The slice of an AWS SDK v3 client (e.g. `BedrockRuntimeClient`) the cap wraps (no SDK dependency). */
export interface SdkClient {
  // biome-ignore lint/suspicious/noExplicitAny: the SDK's overloaded `send` must stay assignable.
  send(command: any, ...rest: any[]): Promise<any>;
}

/** A command as the SDK's `send` takes it: its input is read and replaced by the cap. */
interface SdkCommand {
  input: object;
}

/** The client a capped view sends through (set on the view only). */
const UNCAPPED = Symbol('cycles-guard.uncapped');

const CONVERSE = new Set(['ConverseCommand', 'ConverseStreamCommand']);

/**
 * The Converse input with the smallest grant of `runs` applied (`inferenceConfig.maxTokens` and any
 * thinking budget), by the bedrock package's own clamp.
 */
function applyGrant(input: JsonObject, runs: readonly GuardedRun[]): JsonObject {
  let maxTokens = Number.POSITIVE_INFINITY;
  let budget: number | undefined;
  for (const run of runs) {
    const call = run.call as LlmCall;
    maxTokens = Math.min(maxTokens, call.maxOutputTokens);
    const granted = call.reasoningBudgetTokens;
    if (granted !== undefined) budget = Math.min(budget ?? granted, granted);
  }
  return clampConverse(input, maxTokens, budget);
}

/**
 * Records usage as a stream reports it; a stream abandoned before its end (consumer `break`, early
 * return) is settled here, because LangChain then calls neither handleLLMEnd nor handleLLMError.
 */
async function* watchStream(
  stream: AsyncIterable<unknown>,
  runs: readonly GuardedRun[],
): AsyncGenerator<unknown> {
  let ended = false;
  try {
    for await (const event of stream) {
      const usage = converseUsage(asObject(asObject(event)?.metadata)?.usage);
      if (usage !== undefined) for (const run of runs) run.reported(usage);
      yield event;
    }
    ended = true;
  } catch (error) {
    ended = true; // LangChain reports it to handleLLMError, which settles.
    throw error;
  } finally {
    if (!ended) {
      await Promise.all(runs.map((run) => run.abandon()?.catch(() => {})));
    }
  }
}

function isConverse(command: SdkCommand): boolean {
  // By class name, and by shape for bundles that rename classes.
  return CONVERSE.has(command.constructor.name) || Array.isArray((command.input as JsonObject).messages);
}

/** The runs a request goes out under (each handler's live hold for it); any veto refuses it. */
function runsToSend(runs: readonly GuardedRun[] | undefined): GuardedRun[] {
  const live: GuardedRun[] = [];
  for (const run of runs ?? []) {
    if (run.veto !== undefined) throw run.veto;
    if (run.call !== undefined && !run.settled) live.push(run);
  }
  return live;
}

/**
 * Sends one command: a Converse request carrying a run link is sent with the smallest grant of the
 * handlers holding for that run, and its outcome is noted on their runs. A Converse request no live
 * hold covers is refused before it leaves (fail closed); other commands pass through.
 */
async function sendCapped(client: SdkClient, command: SdkCommand, options: unknown): Promise<unknown> {
  const { runId, input } = unlinkRequest(command.input as JsonObject);
  if (runId === undefined && !isConverse(command)) return client.send(command, options);
  const runs = runsToSend(runId === undefined ? undefined : linkedRuns(runId));
  if (runs.length === 0) {
    const error = new InvalidRequestError(
      'callbacks: this Bedrock client is capped, but no CyclesCallbackHandler reservation covers this ' +
        'Converse call. Pass `callbacks: [handler]` to the model or the call (or guard the model with ' +
        '`guardChatModel`), or use a client without the cap.',
      { details: { field: 'callbacks', runId } },
    );
    markNotRetryable(error);
    throw error;
  }
  for (const run of runs) run.sent = true;
  // The command was built for this one call: its input is replaced by the capped copy.
  command.input = applyGrant(input, runs);
  let output: JsonObject;
  try {
    output = await client.send(command, options);
  } catch (error) {
    // Not billed (Bedrock's answer or no connection), unless our own abort stopped it in flight.
    for (const run of runs) run.refused = run.call?.aborted !== true && unbilledBedrockFailure(error);
    throw error;
  }
  if (output.stream !== undefined) output.stream = watchStream(output.stream as AsyncIterable<unknown>, runs);
  return output;
}

/**
 * A view of `client` whose `send` applies the grants of the handlers' runs. The view inherits
 * everything else from the client, which stays as it was (other models may share it). A view rather
 * than an SDK middleware: the SDK resolves its middleware stack again on every send, and one more
 * entry there costs more than the cap itself.
 */
export function cappedClient<Client extends SdkClient>(client: Client): Client {
  // Capping a view again gives another view of the same client (never a cap over a cap).
  const base: SdkClient = (client as { [UNCAPPED]?: SdkClient })[UNCAPPED] ?? client;
  const view = Object.create(base) as Client & { [UNCAPPED]: SdkClient };
  view[UNCAPPED] = base;
  view.send = (command: SdkCommand, optionsOrCallback?: unknown, callback?: unknown) => {
    const done = typeof optionsOrCallback === 'function' ? optionsOrCallback : callback;
    const options = typeof optionsOrCallback === 'function' ? undefined : optionsOrCallback;
    const sent = sendCapped(base, command, options);
    if (typeof done !== 'function') return sent;
    // The SDK's callback form: (error, output).
    sent.then(
      (output) => done(null, output),
      (error: unknown) => done(error),
    );
    return undefined as never;
  };
  return view;
}
