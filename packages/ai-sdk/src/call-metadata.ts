import type { SharedV3ProviderMetadata } from '@ai-sdk/provider';
import type { LlmCall, Settlement } from '@cycles-guard/core';
import { CYCLES_PROVIDER_OPTIONS_KEY } from './options.ts';

/** What the guard did to one model call: `providerMetadata.cycles` on results and `finish` parts. */
export interface CyclesCallMetadata {
  [key: string]: string | number | boolean;
  reservationId: string;
  /** Output tokens sent to the model (thinking budget included). */
  grantedMaxOutputTokens: number;
  requestedMaxOutputTokens: number;
  capped: boolean;
  /** Amount committed, in the instance's unit (0 when released). */
  charged: number;
}

/** What `call` was granted and, once settled, charged. */
export function metadata(call: LlmCall, settlement: Settlement | undefined): CyclesCallMetadata {
  return {
    reservationId: call.reservationId,
    grantedMaxOutputTokens: call.maxOutputTokens,
    requestedMaxOutputTokens: call.requestedMaxOutputTokens,
    capped: call.capped,
    charged: settlement?.status === 'committed' ? settlement.charged : 0,
  };
}

/** `providerMetadata` with the guard's entry added under `cycles`. */
export function withMetadata(
  providerMetadata: SharedV3ProviderMetadata | undefined,
  value: CyclesCallMetadata,
): SharedV3ProviderMetadata {
  return { ...providerMetadata, [CYCLES_PROVIDER_OPTIONS_KEY]: value };
}
