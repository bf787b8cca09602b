import type { CyclesEvent, CyclesEventHandler } from '../events.ts';
import type { LlmCall } from '../llm/llm-call.ts';
import type { Subject } from '../protocol/types.ts';
import type { CallRecord } from './call-record.ts';
import { CallSpans } from './call-spans.ts';
import { createInstruments, GRANTED, type Instruments, REQUESTED } from './instruments.ts';
import { CYCLES, GEN_AI, LLM_ACTION_KIND } from './names.ts';
import type { ResolvedTelemetryOptions } from './options.ts';
import type { OtelTracer } from './otel-api.ts';
import { scopeAtDepth } from './scope-at-depth.ts';
import { writeSpan } from './write-span.ts';

/** Instrumentation scope name of the tracer and the meter. */
export const TELEMETRY_SCOPE = '@cycles-guard/core';

/**
 * OpenTelemetry for one Cycles instance: spans and metrics built from the lifecycle's events (which
 * carry the ledger's round trips). A call's span and ledger timings go through the SDK on the turn after
 * it settles (`CallSpans`); the sums every call adds to are kept here. Created only when `telemetry` is on.
 */
export class CyclesTelemetry {
  readonly #instruments: Instruments;
  readonly #tracer: OtelTracer;
  readonly #spans: CallSpans;
  readonly #scopeLevels: number;

  constructor(options: ResolvedTelemetryOptions) {
    const { api } = options;
    this.#tracer = api.trace.getTracer(TELEMETRY_SCOPE);
    this.#spans = new CallSpans(api, (record) => this.#write(record), options);
    this.#scopeLevels = options.scopeLevels;
    this.#instruments = createInstruments(api.metrics.getMeter(TELEMETRY_SCOPE), this.#spans);
  }

  /** Spans of holds not settled yet. */
  get openSpans(): number {
    return this.#spans.openCount;
  }

  /** Writes the spans and ledger timings of every settled call now, rather than on the next turn. */
  flush(): void {
    this.#spans.flush();
  }

  /** Telemetry first (its failures swallowed), then the application's own handler. */
  withHandler(handler: CyclesEventHandler | undefined): CyclesEventHandler {
    return (event) => {
      try {
        this.record(event);
      } catch {
        // An observer must never change the outcome of a guarded call.
      }
      return handler?.(event);
    };
  }

  /** Records what `beginLlmCall` granted (the output limit asked for and sent), before it returns. */
  llmCall(call: LlmCall): void {
    if (!call.guarded) return;
    try {
      this.#spans.llmCall(call);
      const totals = this.#instruments.tokens.cell(call.model.modelId).totals;
      totals[REQUESTED] = (totals[REQUESTED] as number) + call.requestedMaxOutputTokens;
      totals[GRANTED] = (totals[GRANTED] as number) + call.maxOutputTokens;
    } catch {
      // An observer must never change the outcome of a guarded call.
    }
  }

  record(event: CyclesEvent): void {
    const instruments = this.#instruments;
    switch (event.type) {
      case 'decision':
        this.#spans.decision(event);
        this.#reserveTrip(event.ledgerMs);
        return;
      case 'capped':
        this.#spans.capped(event);
        instruments.capCuts.add(1, { [CYCLES.reason]: event.reason, [GEN_AI.requestModel]: event.model });
        return;
      case 'cutoff':
        this.#spans.cutoff(event);
        return;
      case 'commit': {
        this.#spans.commit(event);
        this.#spend(event.subject, event.unit, event.metrics?.modelVersion ?? modelOf(event), event.charged);
        return;
      }
      case 'release':
        this.#spans.release(event);
        return;
      case 'settle-error':
        this.#spans.settleError(event);
        return;
      case 'denial':
        this.#spans.denial(event);
        this.#reserveTrip(event.ledgerMs);
        instruments.denials.add(1, { [CYCLES.reason]: event.code, [CYCLES.unit]: event.unit });
        return;
      case 'fail-open':
        this.#spans.failOpen(event);
        return;
      case 'settlement-queued':
        instruments.outboxDepth.add(1, { [CYCLES.unit]: event.unit });
        return;
      case 'settlement-replayed':
        instruments.outboxDepth.add(-1, { [CYCLES.unit]: event.unit });
        if (event.operation === 'commit')
          this.#spend(event.subject, event.unit, modelOf(event), event.charged);
        return;
      case 'settlement-dropped':
        instruments.outboxDepth.add(-1, { [CYCLES.unit]: event.unit });
        return;
      case 'heartbeat-stopped':
        return;
    }
  }

  /** Reserves are timed as they answer: a hold may stay open for minutes. */
  #reserveTrip(ms: number | undefined): void {
    if (ms !== undefined) this.#instruments.reserveDuration.record(ms / 1000);
  }

  /** A finished call, on the turn after it settled: its settlement's ledger trip, then its span. */
  #write(record: CallRecord): void {
    const instruments = this.#instruments;
    if (record.settleMs !== undefined)
      (record.settledBy === 'commit' ? instruments.commitDuration : instruments.releaseDuration).record(
        record.settleMs / 1000,
      );
    writeSpan(this.#tracer, record);
  }

  #spend(subject: Subject, unit: string, model: string | undefined, amount: number): void {
    if (amount <= 0) return;
    const cell = this.#instruments.spend.cell(scopeAtDepth(subject, this.#scopeLevels), model ?? '', unit);
    cell.totals[0] = (cell.totals[0] as number) + amount;
  }
}

/** The model of an LLM call's event: its action names it (`beginLlmCall`'s default action). */
function modelOf(event: CyclesEvent): string | undefined {
  return event.action.kind === LLM_ACTION_KIND ? event.action.name : undefined;
}
