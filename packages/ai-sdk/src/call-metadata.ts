import type { JSONObject, SharedV3ProviderMetadata } from '@ai-sdk/provider';
import type { LlmCallOutcome, Settlement } from '@cycles-guard/core';
import { type LlmCall, llmCallOutcome } from '@cycles-guard/core/llm';
import { CYCLES_PROVIDER_OPTIONS_KEY } from './options.ts';

/**
 * `providerMetadata.cycles` of results and `finish` parts: core's per-call outcome; `charged` is 0
 * when released, or when the settlement could not be confirmed (it is then in the outbox).
 */
export function metadata(call: LlmCall, settlement: Settlement | undefined): LlmCallOutcome {
  const outcome = llmCallOutcome(call, settlement);
  outcome.charged ??= 0;
  return outcome;
}

/** `providerMetadata` with the guard's entry added under `cycles`. */
export function withMetadata(
  providerMetadata: SharedV3ProviderMetadata | undefined,
  value: LlmCallOutcome,
): SharedV3ProviderMetadata {
  // Every field of the outcome is a JSON value.
  return { ...providerMetadata, [CYCLES_PROVIDER_OPTIONS_KEY]: value as unknown as JSONObject };
}
