import type { Settlement } from '../lifecycle/hold.ts';
import type { LlmCall } from './llm-call.ts';

/**
 * What the guard did to one model call, under the same names in every adapter: the bedrock plugin's
 * `getCyclesResult(output)`, the AI SDK's `providerMetadata.cycles`, LangChain's `onSettled`.
 */
export interface LlmCallOutcome {
  reservationId: string;
  /** Amount held for the call, in the instance's unit. */
  reserved: number;
  /** Max output tokens sent to the model (thinking budget included). */
  grantedMaxOutputTokens: number;
  /** Max output tokens asked for (the model's maximum when the request had none). */
  requestedMaxOutputTokens: number;
  /** True when the grant is below the request. */
  capped: boolean;
  /** Version of the prices the call was reserved and committed at. */
  priceVersion: string;
  /** Amount committed (0 when released); undefined until the call settles (a stream: once it ends). */
  charged?: number;
}

/** The outcome of `call`, with `charged` once `settlement` is known. */
export function llmCallOutcome(call: LlmCall, settlement?: Settlement): LlmCallOutcome {
  const outcome: LlmCallOutcome = {
    reservationId: call.reservationId,
    reserved: call.reserved,
    grantedMaxOutputTokens: call.maxOutputTokens,
    requestedMaxOutputTokens: call.requestedMaxOutputTokens,
    capped: call.capped,
    priceVersion: call.model.priceVersion,
  };
  if (settlement !== undefined) outcome.charged = chargedBy(settlement);
  return outcome;
}

/** Amount a settlement charged: 0 when released. */
export function chargedBy(settlement: Settlement): number {
  return settlement.status === 'committed' ? settlement.charged : 0;
}
