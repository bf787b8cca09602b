import type { CyclesEvent } from '../events.ts';
import type { LlmCall } from '../llm/llm-call.ts';
import { affectedScopes } from '../protocol/scopes.ts';
import { BEDROCK_PROVIDER, CYCLES, GEN_AI, LLM_ACTION_KIND } from './names.ts';
import {
  type OtelApi,
  type OtelAttributes,
  type OtelSpan,
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
    [CYCLES.actionKind]: event.action.kind,
    [CYCLES.actionName]: event.action.name,
    [CYCLES.unit]: event.unit,
  };
  if (event.action.kind === LLM_ACTION_KIND) {
    attributes[GEN_AI.operation] = 'chat';
    attributes[GEN_AI.provider] = BEDROCK_PROVIDER;
    attributes[GEN_AI.requestModel] = event.action.name;
  }
  return attributes;
}

/**
 * One span per guarded call, from its decision to its settlement (or its refusal), with the budget
 * outcome as attributes. Spans of holds in flight are kept by reservation id, at most `maxOpen`.
 */
export class CallSpans {
  readonly #api: OtelApi;
  readonly #tracer: OtelTracer;
  readonly #latencies: LedgerLatencies;
  readonly #maxOpen: number;
  readonly #open = new Map<string, OtelSpan>();

  constructor(api: OtelApi, tracer: OtelTracer, latencies: LedgerLatencies, maxOpen: number) {
    this.#api = api;
    this.#tracer = tracer;
    this.#latencies = latencies;
    this.#maxOpen = maxOpen;
  }

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
    const span = this.#tracer.startSpan(
      spanName(event),
      { kind: SPAN_KIND_INTERNAL, attributes, startTime: Date.now() - (reserveMs ?? 0) },
      this.#api.context.active(),
    );
    if (this.#open.size >= this.#maxOpen) this.#evictOldest();
    this.#open.set(event.reservationId, span);
  }

  /** What `beginLlmCall` decided: the model, and the output limit asked for and sent. */
  llmCall(call: LlmCall): void {
    const span = this.#open.get(call.reservationId);
    if (span === undefined) return;
    span.updateName(`cycles.guard ${call.model.modelId}`);
    span.setAttributes({
      [GEN_AI.operation]: 'chat',
      [GEN_AI.provider]: BEDROCK_PROVIDER,
      [GEN_AI.requestModel]: call.model.modelId,
      [GEN_AI.requestMaxTokens]: call.maxOutputTokens,
      [CYCLES.maxTokensRequested]: call.requestedMaxOutputTokens,
      [CYCLES.maxTokensGranted]: call.maxOutputTokens,
      [CYCLES.inputTokensExact]: call.inputTokensExact,
    });
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
    const attributes: OtelAttributes = {
      [CYCLES.actual]: event.actual,
      [CYCLES.charged]: event.charged,
      [CYCLES.settlement]: event.viaEvent ? 'committed_via_event' : 'committed',
    };
    const settleMs = this.#latencies.takeSettle(event.reservationId);
    if (settleMs !== undefined) attributes[CYCLES.settleMs] = settleMs;
    const metrics = event.metrics;
    if (metrics?.tokensInput !== undefined) attributes[GEN_AI.inputTokens] = metrics.tokensInput;
    if (metrics?.tokensOutput !== undefined) attributes[GEN_AI.outputTokens] = metrics.tokensOutput;
    span.setAttributes(attributes);
    span.end();
  }

  /** Ends on the next turn: a call refused after its hold (too little for the minimum) reports its denial right after. */
  release(event: Event<'release'>): void {
    const span = this.#open.get(event.reservationId);
    if (span === undefined) return;
    span.setAttribute(CYCLES.settlement, 'released');
    const settleMs = this.#latencies.takeSettle(event.reservationId);
    if (settleMs !== undefined) span.setAttribute(CYCLES.settleMs, settleMs);
    setImmediate(() => {
      if (this.#open.get(event.reservationId) === span) this.#take(event.reservationId)?.end();
    });
  }

  settleError(event: Event<'settle-error'>): void {
    const span = this.#take(event.reservationId);
    if (span === undefined) return;
    span.setAttributes({ [CYCLES.settlement]: 'failed', [GEN_AI.errorType]: event.code });
    span.setStatus({ code: SPAN_STATUS_ERROR, message: event.message });
    span.end();
  }

  /** A refusal: ends the call's span, or is a span of its own when no hold was taken. */
  denial(event: Event<'denial'>): void {
    const open = event.reservationId === undefined ? undefined : this.#take(event.reservationId);
    const span =
      open ??
      this.#tracer.startSpan(
        spanName(event),
        {
          kind: SPAN_KIND_INTERNAL,
          attributes: { ...baseAttributes(event), [CYCLES.estimate]: event.estimate },
        },
        this.#api.context.active(),
      );
    span.setAttributes({
      [CYCLES.decision]: 'DENY',
      [CYCLES.denialCode]: event.code,
      [GEN_AI.errorType]: event.code,
    });
    span.setStatus({ code: SPAN_STATUS_ERROR, message: event.message });
    span.end();
  }

  failOpen(event: Event<'fail-open'>): void {
    const span = this.#tracer.startSpan(
      spanName(event),
      {
        kind: SPAN_KIND_INTERNAL,
        attributes: { ...baseAttributes(event), [CYCLES.estimate]: event.estimate },
      },
      this.#api.context.active(),
    );
    span.setAttributes({ [CYCLES.settlement]: 'unguarded', [CYCLES.denialCode]: event.code });
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
