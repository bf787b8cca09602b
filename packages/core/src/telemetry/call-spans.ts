import type { CyclesEvent } from '../events.ts';
import type { LlmCall } from '../llm/llm-call.ts';
import { affectedScopes } from '../protocol/scopes.ts';
import { BEDROCK_PROVIDER, CYCLES, GEN_AI, LLM_ACTION_KIND } from './names.ts';
import {
  type OtelApi,
  type OtelAttributes,
  type OtelTracer,
  SPAN_KIND_INTERNAL,
  SPAN_STATUS_ERROR,
} from './otel-api.ts';
import type { LedgerLatencies } from './timed-authority.ts';

type Event<T extends CyclesEvent['type']> = Extract<CyclesEvent, { type: T }>;

/** The span name: `cycles.guard <model or action name>`. */
function spanName(event: CyclesEvent): string {
  return `cycles.guard ${event.action.name}`;
}

function baseAttributes(event: CyclesEvent): OtelAttributes {
  const attributes: OtelAttributes = {
    [CYCLES.scopes]: affectedScopes(event.subject),
    [CYCLES.unit]: event.unit,
  };
  // An LLM call's action names its model (gen_ai.*); any other action is named as is.
  if (event.action.kind === LLM_ACTION_KIND) {
    attributes[GEN_AI.operation] = 'chat';
    attributes[GEN_AI.provider] = BEDROCK_PROVIDER;
    attributes[GEN_AI.requestModel] = event.action.name;
  } else {
    attributes[CYCLES.actionKind] = event.action.kind;
    attributes[CYCLES.actionName] = event.action.name;
  }
  return attributes;
}

/** A call in flight: its span is built once, when it ends (one SDK span per call, nothing kept open). */
interface PendingSpan {
  name: string;
  startTime: number;
  attributes: OtelAttributes;
  /** The caller's context when the hold was granted: the span's parent. */
  parent: unknown;
}

/**
 * One span per guarded call, from its decision to its settlement (or its refusal), with the budget
 * outcome as attributes. Calls in flight are kept by reservation id (plain records, at most `maxOpen`);
 * the SDK span is created and ended in one step when the call ends, which costs the least per call.
 */
export class CallSpans {
  readonly #api: OtelApi;
  readonly #tracer: OtelTracer;
  readonly #latencies: LedgerLatencies;
  readonly #maxOpen: number;
  readonly #open = new Map<string, PendingSpan>();

  constructor(api: OtelApi, tracer: OtelTracer, latencies: LedgerLatencies, maxOpen: number) {
    this.#api = api;
    this.#tracer = tracer;
    this.#latencies = latencies;
    this.#maxOpen = maxOpen;
  }

  /** Calls granted and not settled yet (the live holds this process knows of). */
  get openCount(): number {
    return this.#open.size;
  }

  /** A hold was granted: its span starts when the reserve was sent (the ledger round trip before now). */
  decision(event: Event<'decision'>): void {
    const reserveMs = this.#latencies.takeReserve(event.reservationId);
    const attributes = baseAttributes(event);
    attributes[CYCLES.reservationId] = event.reservationId;
    attributes[CYCLES.decision] = event.decision;
    attributes[CYCLES.estimate] = event.estimate;
    attributes[CYCLES.reserved] = event.reserved;
    attributes[CYCLES.partial] = event.partial;
    if (reserveMs !== undefined) attributes[CYCLES.reserveMs] = reserveMs;
    if (this.#open.size >= this.#maxOpen) this.#evictOldest();
    this.#open.set(event.reservationId, {
      name: spanName(event),
      startTime: Date.now() - (reserveMs ?? 0),
      attributes,
      parent: this.#api.context.active(),
    });
  }

  /** What `beginLlmCall` decided: the model, and the output limit asked for and sent. */
  llmCall(call: LlmCall): void {
    const pending = this.#open.get(call.reservationId);
    if (pending === undefined) return;
    pending.name = `cycles.guard ${call.model.modelId}`;
    const { attributes } = pending;
    attributes[GEN_AI.operation] = 'chat';
    attributes[GEN_AI.provider] = BEDROCK_PROVIDER;
    attributes[GEN_AI.requestModel] = call.model.modelId;
    attributes[GEN_AI.requestMaxTokens] = call.maxOutputTokens;
    attributes[CYCLES.maxTokensRequested] = call.requestedMaxOutputTokens;
  }

  capped(event: Event<'capped'>): void {
    const pending = this.#open.get(event.reservationId);
    if (pending !== undefined) pending.attributes[CYCLES.capReason] = event.reason;
  }

  cutoff(event: Event<'cutoff'>): void {
    const pending = this.#open.get(event.reservationId);
    if (pending !== undefined) pending.attributes[CYCLES.settlement] = 'cutoff';
  }

  commit(event: Event<'commit'>): void {
    const pending = this.#take(event.reservationId);
    if (pending === undefined) return;
    const { attributes } = pending;
    attributes[CYCLES.actual] = event.actual;
    attributes[CYCLES.charged] = event.charged;
    attributes[CYCLES.settlement] = event.viaEvent ? 'committed_via_event' : 'committed';
    const settleMs = this.#latencies.takeSettle(event.reservationId);
    if (settleMs !== undefined) attributes[CYCLES.settleMs] = settleMs;
    const metrics = event.metrics;
    if (metrics?.tokensInput !== undefined) attributes[GEN_AI.inputTokens] = metrics.tokensInput;
    if (metrics?.tokensOutput !== undefined) attributes[GEN_AI.outputTokens] = metrics.tokensOutput;
    this.#end(pending);
  }

  /** Ends on the next turn: a call refused after its hold (too little for the minimum) reports its denial right after. */
  release(event: Event<'release'>): void {
    const pending = this.#open.get(event.reservationId);
    if (pending === undefined) return;
    pending.attributes[CYCLES.settlement] = 'released';
    const settleMs = this.#latencies.takeSettle(event.reservationId);
    if (settleMs !== undefined) pending.attributes[CYCLES.settleMs] = settleMs;
    setImmediate(() => {
      if (this.#open.get(event.reservationId) === pending) {
        this.#open.delete(event.reservationId);
        this.#end(pending);
      }
    });
  }

  settleError(event: Event<'settle-error'>): void {
    const pending = this.#take(event.reservationId);
    if (pending === undefined) return;
    pending.attributes[CYCLES.settlement] = 'failed';
    pending.attributes[GEN_AI.errorType] = event.code;
    this.#end(pending, event.message);
  }

  /** A refusal: ends the call's span, or is a span of its own when no hold was taken. */
  denial(event: Event<'denial'>): void {
    const open = event.reservationId === undefined ? undefined : this.#take(event.reservationId);
    const pending = open ?? {
      name: spanName(event),
      startTime: Date.now(),
      attributes: { ...baseAttributes(event), [CYCLES.estimate]: event.estimate },
      parent: this.#api.context.active(),
    };
    pending.attributes[CYCLES.decision] = 'DENY';
    pending.attributes[CYCLES.denialCode] = event.code;
    pending.attributes[GEN_AI.errorType] = event.code;
    this.#end(pending, event.message);
  }

  failOpen(event: Event<'fail-open'>): void {
    const attributes: OtelAttributes = { ...baseAttributes(event), [CYCLES.estimate]: event.estimate };
    attributes[CYCLES.settlement] = 'unguarded';
    attributes[CYCLES.denialCode] = event.code;
    this.#end({
      name: spanName(event),
      startTime: Date.now(),
      attributes,
      parent: this.#api.context.active(),
    });
  }

  /** Creates and ends the call's span in one step; `error` sets an ERROR status. */
  #end(pending: PendingSpan, error?: string): void {
    const span = this.#tracer.startSpan(
      pending.name,
      { kind: SPAN_KIND_INTERNAL, attributes: pending.attributes, startTime: pending.startTime },
      pending.parent,
    );
    if (error !== undefined) span.setStatus({ code: SPAN_STATUS_ERROR, message: error });
    span.end();
  }

  #take(reservationId: string): PendingSpan | undefined {
    const pending = this.#open.get(reservationId);
    if (pending !== undefined) this.#open.delete(reservationId);
    return pending;
  }

  #evictOldest(): void {
    const oldest = this.#open.keys().next();
    if (oldest.done === true) return;
    const pending = this.#take(oldest.value);
    if (pending === undefined) return;
    pending.attributes[CYCLES.settlement] = 'untracked';
    this.#end(pending);
  }
}
