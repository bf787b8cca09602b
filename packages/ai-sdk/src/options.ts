import type { Action, Cycles, Subject } from '@cycles-guard/core';

/** Options of `cyclesModelMiddleware`. */
export interface CyclesMiddlewareOptions {
  /**
   * The Cycles instance that prices and holds each model call.
   * @default the budget context's instance, else the process default (`currentCycles()`)
   */
  cycles?: Cycles;
  /**
   * Subject merged over the budget context's subject (these levels win).
   * @default the budget context's subject
   */
  subject?: Subject;
  /**
   * Action recorded with each reservation.
   * @default `{ kind: 'llm.completion', name: <model id> }`
   */
  action?: Action;
}

/** Per-call overrides, passed as `providerOptions: { cycles: { ... } }` to generateText/streamText. */
export interface CyclesCallOptions {
  /** Merged over the middleware's and the budget context's subject. */
  subject?: Subject;
  /** Action recorded with this call's reservation. */
  action?: Action;
  /** Exact input tokens (e.g. from a tokenizer); makes the output cap hard. Default: an estimate. */
  inputTokens?: number;
}

/** Key of the per-call overrides in `providerOptions`. */
export const CYCLES_PROVIDER_OPTIONS_KEY = 'cycles';
