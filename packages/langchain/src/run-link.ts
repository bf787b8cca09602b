// How a Bedrock request is tied to the LangChain run that reserved for it, deterministically under
// any concurrency: the handler writes the run id into the run's own call options as Converse
// `requestMetadata` (ChatBedrockConverse copies that option into the request), and the capped
// client reads it back and removes it before the request is sent.

import { asObject, type JsonObject } from '@cycles-guard/bedrock/wire';

/** The `requestMetadata` key carrying the run id between the handler and the capped client. */
export const RUN_LINK_KEY = 'cycles_guard_run';

/** Model metadata `guardChatModel` sets: this model's requests go through a capped client. */
export const CAPPED_MODEL_METADATA_KEY = 'cycles_guard_capped';

/** Tags a run's call options (a fresh object per call in LangChain) with its run id. */
export function linkCallOptions(options: JsonObject, runId: string): void {
  options.requestMetadata = { ...asObject(options.requestMetadata), [RUN_LINK_KEY]: runId };
}

/** The run id a run's call options were tagged with, if any. */
export function linkedRunId(options: JsonObject): string | undefined {
  const runId = asObject(options.requestMetadata)?.[RUN_LINK_KEY];
  return typeof runId === 'string' ? runId : undefined;
}

/** The run id of a Converse input, and the input without the tag (user metadata kept): a copy when tagged. */
export function unlinkRequest(input: JsonObject): { runId: string | undefined; input: JsonObject } {
  const metadata = asObject(input.requestMetadata);
  const runId = metadata?.[RUN_LINK_KEY];
  if (metadata === undefined || typeof runId !== 'string') return { runId: undefined, input };
  const { [RUN_LINK_KEY]: _link, ...userMetadata } = metadata;
  // Only the tag is taken out: the same keys in the same order as the request LangChain built (an
  // untagged one has `requestMetadata: undefined`, which is not sent), so the SDK serializes one
  // object shape whether a request is guarded or not.
  return {
    runId,
    input: { ...input, requestMetadata: Object.keys(userMetadata).length > 0 ? userMetadata : undefined },
  };
}
