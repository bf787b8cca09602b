import type { LlmCall, Settlement, TokenUsage } from '@cycles-guard/core';

/** What the guard did to one call; read it with `getCyclesResult(output)`. */
export interface CyclesBedrockResult {
  reservationId: string;
  /** Max output tokens sent to Bedrock. */
  grantedMaxTokens: number;
  /** Max output tokens asked for (the model's maximum when the request had none). */
  requestedMaxTokens: number;
  /** True when the grant is below the request. */
  capped: boolean;
  /** Version of the prices the call was reserved and committed at. */
  priceVersion: string;
  /** Amount charged, once settled (for streams: after the stream ends). */
  charged?: number;
}

/** Settles a call once and records the charge on its result. */
export class CallSettler {
  readonly result: CyclesBedrockResult;
  #settlement: Promise<Settlement> | undefined;

  constructor(readonly call: LlmCall) {
    this.result = {
      reservationId: call.reservationId,
      grantedMaxTokens: call.maxOutputTokens,
      requestedMaxTokens: call.requestedMaxOutputTokens,
      capped: call.capped,
      priceVersion: call.model.priceVersion,
    };
  }

  get settled(): boolean {
    return this.#settlement !== undefined;
  }

  // Each settles once: the first starts the settlement, later calls get the same one (checked inline,
  // not through a helper taking a closure: one call settles per request).

  /** Commits real usage when known, else the whole hold (bytes may have been billed: never $0). */
  commitOrHold(usage: TokenUsage | undefined): Promise<Settlement> {
    if (this.#settlement !== undefined) return this.#settlement;
    return this.#started(usage === undefined ? this.call.abort() : this.call.commit(usage));
  }

  /** Commits the usage observed so far (a stream we stopped); the rest of the hold is released. */
  commitObserved(observed: Partial<TokenUsage>): Promise<Settlement> {
    if (this.#settlement !== undefined) return this.#settlement;
    return this.#started(this.call.abort(observed));
  }

  /** Releases: the request never reached Bedrock or was refused before billing. */
  release(error: unknown): Promise<Settlement> {
    if (this.#settlement !== undefined) return this.#settlement;
    return this.#started(this.call.fail(error, { reachedProvider: false }));
  }

  #started(settling: Promise<Settlement>): Promise<Settlement> {
    const result = this.result;
    this.#settlement = settling.then((settlement) => {
      result.charged = settlement.status === 'committed' ? settlement.charged : 0;
      return settlement;
    });
    return this.#settlement;
  }
}
