import type { CyclesEvent, DecisionEvent } from '../events.ts';
import type { LlmCall } from '../llm/llm-call.ts';
import { affectedScopes } from '../protocol/scopes.ts';
import { BEDROCK_PROVIDER, CYCLES, GEN_AI, LLM_ACTION_KIND } from './names.ts';
import {
  type OtelApi,
  type OtelSpan,
  type OtelTracer,
  SPAN_KIND_INTERNAL,
  SPAN_STATUS_ERROR,
} from './otel-api.ts';

type Event<T extends CyclesEvent['type']> = Extract<CyclesEvent, { type: T }>;

/** What is known of a granted hold until it settles; its span is built from it then. */
interface OpenCall {
  readonly decision: DecisionEvent;
  /** The parent the span gets: the context the hold was granted in. */
  readonly context: unknown;
  /** `performance.now()` when the reserve was sent: the span's start. */
  readonly startedAt: number;
  /** Set by `beginLlmCall`: the model, the output limit asked for and the one sent. */
  model: string | undefined;
  requestedMaxTokens: number | undefined;
  maxTokens: number | undefined;
  capReason: string | undefined;
  cutoff: boolean;
}

/**
 * One span per guarded call, from its reserve to its settlement (or its refusal), with the budget
 * outcome as attributes. A granted hold is kept as a plain record; its span is started and ended in
 * one go when it settles, back-dated to the reserve. That is safe because the span is never made
 * active (no `startActiveSpan`, no `context.with`): nothing can be parented under it while the call
 * runs, so a span that exists only at the end loses no child. Its parent is the context the hold was
 * granted in, kept with the record. A span the sampler drops gets no attributes built. Records are
 * kept by reservation id, at most `maxOpen`.
 */
export class CallSpans {
  readonly #api: OtelApi;
  readonly #tracer: OtelTracer;
  readonly #maxOpen: number;
  readonly #open = new Map<string, OpenCall>();

  constructor(api: OtelApi, tracer: OtelTracer, maxOpen: number) {
    this.#api = api;
    this.#tracer = tracer;
    this.#maxOpen = maxOpen;
  }

  /** Calls granted and not settled yet (the live holds this process knows of). */
  get openCount(): number {
    return this.#open.size;
  }

  /** A hold was granted: remembered until it settles; its span starts when the reserve was sent. */
  decision(event: DecisionEvent): void {
    if (this.#open.size >= this.#maxOpen) this.#evictOldest();
    this.#open.set(event.reservationId, {
      decision: event,
      context: this.#api.context.active(),
      startedAt: performance.now() - (event.ledgerMs ?? 0),
      model: undefined,
      requestedMaxTokens: undefined,
      maxTokens: undefined,
      capReason: undefined,
      cutoff: false,
    });
  }

  /** What `beginLlmCall` decided: the model, and the output limit asked for and sent. */
  llmCall(call: LlmCall): void {
    const open = this.#open.get(call.reservationId);
    if (open === undefined) return;
    open.model = call.model.modelId;
    open.requestedMaxTokens = call.requestedMaxOutputTokens;
    open.maxTokens = call.maxOutputTokens;
  }

  capped(event: Event<'capped'>): void {
    const open = this.#open.get(event.reservationId);
    if (open !== undefined) open.capReason = event.reason;
  }

  cutoff(event: Event<'cutoff'>): void {
    const open = this.#open.get(event.reservationId);
    if (open !== undefined) open.cutoff = true;
  }

  commit(event: Event<'commit'>): void {
    const open = this.#take(event.reservationId);
    if (open === undefined) return;
    const span = this.#startGranted(open);
    if (span === undefined) return;
    const settlement = event.viaEvent ? 'committed_via_event' : open.cutoff ? 'cutoff' : 'committed';
    span.setAttribute(CYCLES.settlement, settlement);
    span.setAttribute(CYCLES.actual, event.actual);
    if (event.charged !== event.actual) span.setAttribute(CYCLES.charged, event.charged);
    span.setAttribute(CYCLES.ledgerMs, (open.decision.ledgerMs ?? 0) + (event.ledgerMs ?? 0));
    const metrics = event.metrics;
    if (metrics?.tokensInput !== undefined) span.setAttribute(GEN_AI.inputTokens, metrics.tokensInput);
    if (metrics?.tokensOutput !== undefined) span.setAttribute(GEN_AI.outputTokens, metrics.tokensOutput);
    span.end(performance.now());
  }

  /** Ends on the next turn: a call refused after its hold (too little for the minimum) reports its denial right after. */
  release(event: Event<'release'>): void {
    const open = this.#open.get(event.reservationId);
    if (open === undefined) return;
    setImmediate(() => {
      if (this.#open.get(event.reservationId) !== open) return;
      this.#open.delete(event.reservationId);
      const span = this.#startGranted(open);
      if (span === undefined) return;
      span.setAttribute(CYCLES.settlement, 'released');
      span.setAttribute(CYCLES.ledgerMs, (open.decision.ledgerMs ?? 0) + (event.ledgerMs ?? 0));
      span.end(performance.now());
    });
  }

  settleError(event: Event<'settle-error'>): void {
    const open = this.#take(event.reservationId);
    if (open === undefined) return;
    const span = this.#startGranted(open);
    if (span === undefined) return;
    span.setAttribute(CYCLES.settlement, 'failed');
    span.setAttribute(GEN_AI.errorType, event.code);
    this.#fail(span, event.message);
  }

  /** A refusal: ends the call's span, or is a span of its own when no hold was taken. */
  denial(event: Event<'denial'>): void {
    const open = event.reservationId === undefined ? undefined : this.#take(event.reservationId);
    const span =
      open === undefined
        ? this.#start(event, this.#api.context.active(), performance.now() - (event.ledgerMs ?? 0), undefined)
        : this.#startGranted(open);
    if (span === undefined) return;
    span.setAttribute(CYCLES.decision, 'DENY');
    if (event.ledgerMs !== undefined) span.setAttribute(CYCLES.ledgerMs, event.ledgerMs);
    span.setAttribute(CYCLES.denialCode, event.code);
    span.setAttribute(GEN_AI.errorType, event.code);
    this.#fail(span, event.message);
  }

  failOpen(event: Event<'fail-open'>): void {
    const span = this.#start(event, this.#api.context.active(), performance.now(), undefined);
    if (span === undefined) return;
    span.setAttribute(CYCLES.settlement, 'unguarded');
    span.setAttribute(CYCLES.denialCode, event.code);
    span.end(performance.now());
  }

  /** The span of a granted hold, with what was known before it settled; undefined when not recorded. */
  #startGranted(open: OpenCall): OtelSpan | undefined {
    const { decision } = open;
    const span = this.#start(decision, open.context, open.startedAt, open.model);
    if (span === undefined) return undefined;
    span.setAttribute(CYCLES.reservationId, decision.reservationId);
    span.setAttribute(CYCLES.decision, decision.decision);
    // What was held, only when it is less than the estimate (a partial hold).
    if (decision.reserved < decision.estimate) span.setAttribute(CYCLES.reserved, decision.reserved);
    if (open.maxTokens !== undefined) span.setAttribute(GEN_AI.requestMaxTokens, open.maxTokens);
    // The output limit asked for, only when the budget or a cap lowered it.
    if (open.requestedMaxTokens !== open.maxTokens)
      span.setAttribute(CYCLES.maxTokensRequested, open.requestedMaxTokens as number);
    if (open.capReason !== undefined) span.setAttribute(CYCLES.capReason, open.capReason);
    return span;
  }

  /**
   * Starts the span of the event's call at `startedAt` (a `performance.now()` time); undefined when it
   * is not recorded. An LLM call is named after its model (`gen_ai.*`); any other action as is.
   */
  #start(
    event: CyclesEvent & { estimate: number },
    context: unknown,
    startedAt: number,
    model: string | undefined,
  ): OtelSpan | undefined {
    const { action } = event;
    const llmModel = model ?? (action.kind === LLM_ACTION_KIND ? action.name : undefined);
    const span = this.#tracer.startSpan(
      `cycles.guard ${llmModel ?? action.name}`,
      { kind: SPAN_KIND_INTERNAL, startTime: startedAt },
      context,
    );
    if (!span.isRecording()) return undefined;
    if (llmModel !== undefined) {
      span.setAttribute(GEN_AI.operation, 'chat');
      span.setAttribute(GEN_AI.provider, BEDROCK_PROVIDER);
      span.setAttribute(GEN_AI.requestModel, llmModel);
    }
    if (action.kind !== LLM_ACTION_KIND) {
      span.setAttribute(CYCLES.actionKind, action.kind);
      span.setAttribute(CYCLES.actionName, action.name);
    }
    span.setAttribute(CYCLES.scopes, affectedScopes(event.subject));
    span.setAttribute(CYCLES.unit, event.unit);
    span.setAttribute(CYCLES.estimate, event.estimate);
    return span;
  }

  #fail(span: OtelSpan, message: string): void {
    span.setStatus({ code: SPAN_STATUS_ERROR, message });
    span.end(performance.now());
  }

  #take(reservationId: string): OpenCall | undefined {
    const open = this.#open.get(reservationId);
    if (open !== undefined) this.#open.delete(reservationId);
    return open;
  }

  #evictOldest(): void {
    const oldest = this.#open.keys().next();
    if (oldest.done === true) return;
    const open = this.#take(oldest.value);
    const span = open === undefined ? undefined : this.#startGranted(open);
    span?.setAttribute(CYCLES.settlement, 'untracked');
    span?.end(performance.now());
  }
}
