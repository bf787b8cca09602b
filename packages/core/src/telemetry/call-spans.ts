import type { CyclesEvent } from '../events.ts';
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

/** Kept for a hold whose span is not recorded (sampled out, or no SDK): it still counts as live. */
const UNRECORDED: OtelSpan = {
  isRecording: () => false,
  setAttribute: () => undefined,
  updateName: () => undefined,
  setStatus: () => undefined,
  end: () => undefined,
};

/**
 * One span per guarded call, from its reserve to its settlement (or its refusal), with the budget
 * outcome as attributes. The span starts when the hold is granted and each lifecycle event sets its
 * own attributes on it; a span that is not recording gets none, so a sampled-out call costs a map
 * entry. Open spans are kept by reservation id, at most `maxOpen`.
 */
export class CallSpans {
  readonly #api: OtelApi;
  readonly #tracer: OtelTracer;
  readonly #maxOpen: number;
  readonly #open = new Map<string, OtelSpan>();

  constructor(api: OtelApi, tracer: OtelTracer, maxOpen: number) {
    this.#api = api;
    this.#tracer = tracer;
    this.#maxOpen = maxOpen;
  }

  /** Calls granted and not settled yet (the live holds this process knows of). */
  get openCount(): number {
    return this.#open.size;
  }

  /** A hold was granted: its span starts when the reserve was sent (the ledger round trip before now). */
  decision(event: Event<'decision'>): void {
    if (this.#open.size >= this.#maxOpen) this.#evictOldest();
    const span = this.#start(event, event.ledgerMs);
    this.#open.set(event.reservationId, span ?? UNRECORDED);
    if (span === undefined) return;
    span.setAttribute(CYCLES.reservationId, event.reservationId);
    span.setAttribute(CYCLES.decision, event.decision);
    span.setAttribute(CYCLES.estimate, event.estimate);
    span.setAttribute(CYCLES.reserved, event.reserved);
    span.setAttribute(CYCLES.partial, event.partial);
    if (event.ledgerMs !== undefined) span.setAttribute(CYCLES.reserveMs, event.ledgerMs);
  }

  /** What `beginLlmCall` decided: the model, and the output limit asked for and sent. */
  llmCall(call: LlmCall): void {
    const span = this.#open.get(call.reservationId);
    if (span === undefined || span === UNRECORDED) return;
    span.setAttribute(GEN_AI.requestMaxTokens, call.maxOutputTokens);
    span.setAttribute(CYCLES.maxTokensRequested, call.requestedMaxOutputTokens);
    const { action } = call.hold;
    if (action.kind === LLM_ACTION_KIND && action.name === call.model.modelId) return;
    // The call's action names something else than its model: the span is named after the model.
    span.updateName(`cycles.guard ${call.model.modelId}`);
    span.setAttribute(GEN_AI.operation, 'chat');
    span.setAttribute(GEN_AI.provider, BEDROCK_PROVIDER);
    span.setAttribute(GEN_AI.requestModel, call.model.modelId);
  }

  capped(event: Event<'capped'>): void {
    this.#open.get(event.reservationId)?.setAttribute(CYCLES.capReason, event.reason);
  }

  cutoff(event: Event<'cutoff'>): void {
    this.#open.get(event.reservationId)?.setAttribute(CYCLES.settlement, 'cutoff');
  }

  commit(event: Event<'commit'>): void {
    const span = this.#take(event.reservationId);
    if (span === undefined) return;
    if (span !== UNRECORDED) {
      span.setAttribute(CYCLES.actual, event.actual);
      span.setAttribute(CYCLES.charged, event.charged);
      span.setAttribute(CYCLES.settlement, event.viaEvent ? 'committed_via_event' : 'committed');
      if (event.ledgerMs !== undefined) span.setAttribute(CYCLES.settleMs, event.ledgerMs);
      const metrics = event.metrics;
      if (metrics?.tokensInput !== undefined) span.setAttribute(GEN_AI.inputTokens, metrics.tokensInput);
      if (metrics?.tokensOutput !== undefined) span.setAttribute(GEN_AI.outputTokens, metrics.tokensOutput);
    }
    span.end();
  }

  /** Ends on the next turn: a call refused after its hold (too little for the minimum) reports its denial right after. */
  release(event: Event<'release'>): void {
    const span = this.#open.get(event.reservationId);
    if (span === undefined) return;
    span.setAttribute(CYCLES.settlement, 'released');
    if (event.ledgerMs !== undefined) span.setAttribute(CYCLES.settleMs, event.ledgerMs);
    setImmediate(() => {
      if (this.#open.get(event.reservationId) === span) {
        this.#open.delete(event.reservationId);
        span.end();
      }
    });
  }

  settleError(event: Event<'settle-error'>): void {
    const span = this.#take(event.reservationId);
    if (span === undefined) return;
    span.setAttribute(CYCLES.settlement, 'failed');
    span.setAttribute(GEN_AI.errorType, event.code);
    this.#fail(span, event.message);
  }

  /** A refusal: ends the call's span, or is a span of its own when no hold was taken. */
  denial(event: Event<'denial'>): void {
    const open = event.reservationId === undefined ? undefined : this.#take(event.reservationId);
    const span = open ?? this.#start(event, event.ledgerMs);
    if (span === undefined) return;
    if (open === undefined) span.setAttribute(CYCLES.estimate, event.estimate);
    span.setAttribute(CYCLES.decision, 'DENY');
    span.setAttribute(CYCLES.denialCode, event.code);
    span.setAttribute(GEN_AI.errorType, event.code);
    this.#fail(span, event.message);
  }

  failOpen(event: Event<'fail-open'>): void {
    const span = this.#start(event, undefined);
    if (span === undefined) return;
    span.setAttribute(CYCLES.estimate, event.estimate);
    span.setAttribute(CYCLES.settlement, 'unguarded');
    span.setAttribute(CYCLES.denialCode, event.code);
    span.end();
  }

  /** Starts the span of the event's call, `ledgerMs` before now; undefined when it is not recorded. */
  #start(event: CyclesEvent, ledgerMs: number | undefined): OtelSpan | undefined {
    const span = this.#tracer.startSpan(
      `cycles.guard ${event.action.name}`,
      { kind: SPAN_KIND_INTERNAL, startTime: Date.now() - (ledgerMs ?? 0) },
      this.#api.context.active(),
    );
    if (!span.isRecording()) {
      span.end();
      return undefined;
    }
    span.setAttribute(CYCLES.scopes, affectedScopes(event.subject));
    span.setAttribute(CYCLES.unit, event.unit);
    // An LLM call's action names its model (gen_ai.*); any other action is named as is.
    if (event.action.kind === LLM_ACTION_KIND) {
      span.setAttribute(GEN_AI.operation, 'chat');
      span.setAttribute(GEN_AI.provider, BEDROCK_PROVIDER);
      span.setAttribute(GEN_AI.requestModel, event.action.name);
    } else {
      span.setAttribute(CYCLES.actionKind, event.action.kind);
      span.setAttribute(CYCLES.actionName, event.action.name);
    }
    return span;
  }

  #fail(span: OtelSpan, message: string): void {
    span.setStatus({ code: SPAN_STATUS_ERROR, message });
    span.end();
  }

  #take(reservationId: string): OtelSpan | undefined {
    const span = this.#open.get(reservationId);
    if (span !== undefined) this.#open.delete(reservationId);
    return span;
  }

  #evictOldest(): void {
    const oldest = this.#open.keys().next();
    if (oldest.done === true) return;
    const span = this.#take(oldest.value);
    span?.setAttribute(CYCLES.settlement, 'untracked');
    span?.end();
  }
}
