// The Cycles instance and the budget context that carries it refer to each other, so their types live
// together here, apart from the code: no module imports back into cycles.ts or budget-context.ts.
import type { BudgetAuthority } from './authority.ts';
import type { ResolvedCyclesConfig } from './config.ts';
import type { GuardOptions, Hold, ReserveOptions } from './lifecycle/hold-types.ts';
import type { FlushResult } from './lifecycle/outbox/settlement-outbox.ts';
import type { PriceCatalog } from './llm/catalog.ts';
import type { LlmCall, LlmCallOptions } from './llm/llm-call.ts';
import type { Action, Subject } from './protocol/types.ts';

/** The entry object: budgets, price catalog and the guarded operations, sharing one configuration. */
export interface Cycles {
  /** Who answers reserve/commit/release. */
  readonly authority: BudgetAuthority;
  /** The validated configuration. */
  readonly config: ResolvedCyclesConfig;
  /** Model prices used by `beginLlmCall`. */
  readonly catalog: PriceCatalog;
  /** Reserves `estimate` (or at least `minimum`) for the effective subject. */
  reserve(options: ReserveOptions): Promise<Hold>;
  /** Reserve → run `fn` inside a budget context → commit (or release on throw). */
  guard<T>(options: GuardOptions<T>, fn: (hold: Hold) => Promise<T> | T): Promise<T>;
  /** Prices, reserves and caps one LLM call; the adapter applies `maxOutputTokens` and settles it. */
  beginLlmCall(options: LlmCallOptions): Promise<LlmCall>;
  /** `runWithBudget` bound to this instance. */
  run<T>(options: Omit<BudgetContextOptions, 'cycles'>, fn: () => T): T;
  /**
   * Waits for settlements in progress and replays the settlement outbox until it is empty or
   * `timeoutMs` passed: call it before a serverless handler returns and on graceful shutdown.
   * Answers how many settlements are still pending (they stay journaled for a later process).
   */
  flushSettlements(timeoutMs?: number): Promise<FlushResult>;
  /** Stops background work of the authority it created (or was given) and the outbox's timer. */
  close(): Promise<void>;
}

/** What a request (or any unit of work) runs under: who pays, how to stop, which Cycles instance. */
export interface BudgetContextOptions {
  /**
   * The Cycles instance calls in this context use.
   * @default the enclosing context's, else the process default (`getDefaultCycles()`)
   */
  cycles?: Cycles;
  /** Subject fields; merged over the enclosing context's (these win, dimensions are merged). */
  subject?: Subject;
  /** Aborts the work (e.g. client disconnect); combined with the enclosing context's signal. */
  signal?: AbortSignal;
  /** Default action of guarded calls in this context. */
  action?: Action;
  /** Free-form values for adapters and hooks (merged over the enclosing context's). */
  attributes?: Record<string, unknown>;
}

/** The `withRunBudget` run a context's calls belong to. */
export interface RunScope {
  /** Scope path of the run's own ledger. */
  readonly scope: string;
  /** True once the run's ledger was removed: calls that start later are refused, not left uncapped. */
  ended: boolean;
}

/** The effective (merged) budget context. */
export interface BudgetContext {
  cycles: Cycles | undefined;
  subject: Subject;
  signal: AbortSignal | undefined;
  action: Action | undefined;
  attributes: Record<string, unknown>;
  /** The run (`withRunBudget`) the context is part of, inherited by nested contexts. */
  run: RunScope | undefined;
}
