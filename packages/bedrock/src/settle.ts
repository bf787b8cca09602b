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
    };
  }

  get settled(): boolean {
    return this.#settlement !== undefined;
  }

  /** Commits real usage when known, else the whole hold (bytes may have been billed: never $0). */
  commitOrHold(usage: TokenUsage | undefined): Promise<Settlement> {
    return this.#once(() => (usage === undefined ? this.call.abort() : this.call.commit(usage)));
  }

  /** Commits the usage observed so far (a stream we stopped); the rest of the hold is released. */
  commitObserved(observed: Partial<TokenUsage>): Promise<Settlement> {
    return this.#once(() => this.call.abort(observed));
  }

  /** Releases: the request never reached Bedrock or was refused before billing. */
  release(error: unknown): Promise<Settlement> {
    return this.#once(() => this.call.fail(error, { reachedProvider: false }));
  }

  #once(settle: () => Promise<Settlement>): Promise<Settlement> {
    this.#settlement ??= settle().then((settlement) => {
      this.result.charged = settlement.status === 'committed' ? settlement.charged : 0;
      return settlement;
    });
    return this.#settlement;
  }
}
