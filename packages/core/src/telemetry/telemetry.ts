import type { BudgetAuthority } from '../authority.ts';
import type { CyclesEvent, CyclesEventHandler } from '../events.ts';
import type { LlmCall } from '../llm/llm-call.ts';
import { affectedScopes } from '../protocol/scopes.ts';
import type { Subject } from '../protocol/types.ts';
import { CallSpans } from './call-spans.ts';
import { createInstruments, type Instruments } from './instruments.ts';
import { CYCLES, GEN_AI, LLM_ACTION_KIND } from './names.ts';
import type { ResolvedTelemetryOptions } from './options.ts';
import { LedgerLatencies, timeAuthority } from './timed-authority.ts';

/** Instrumentation scope name of the tracer and the meter. */
export const TELEMETRY_SCOPE = '@cycles-guard/core';

/**
 * OpenTelemetry for one Cycles instance: spans and metrics built from the lifecycle's events, ledger
 * round trips timed at the authority. Created only when `telemetry` is on.
 */
export class CyclesTelemetry {
  readonly #instruments: Instruments;
  readonly #latencies = new LedgerLatencies();
  readonly #spans: CallSpans;
  readonly #scopeLevels: number;

  constructor(options: ResolvedTelemetryOptions) {
    const { api } = options;
    this.#spans = new CallSpans(
      api,
      api.trace.getTracer(TELEMETRY_SCOPE),
      this.#latencies,
      options.maxOpenSpans,
    );
    this.#scopeLevels = options.scopeLevels;
    this.#instruments = createInstruments(api.metrics.getMeter(TELEMETRY_SCOPE), () => this.#spans.openCount);
  }

  /** Spans of holds not settled yet. */
  get openSpans(): number {
    return this.#spans.openCount;
  }

  /** The authority with its round trips measured. */
  timeAuthority(authority: BudgetAuthority): BudgetAuthority {
    return timeAuthority(authority, this.#instruments, this.#latencies);
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

  /** Records what `beginLlmCall` granted (the output limit asked for and sent). */
  llmCall(call: LlmCall): void {
    if (!call.guarded) return;
    this.#spans.llmCall(call);
    const attributes = { [GEN_AI.requestModel]: call.model.modelId };
    this.#instruments.tokensRequested.add(call.requestedMaxOutputTokens, attributes);
    this.#instruments.tokensGranted.add(call.maxOutputTokens, attributes);
  }

  record(event: CyclesEvent): void {
    const instruments = this.#instruments;
    switch (event.type) {
      case 'decision':
        this.#spans.decision(event);
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

  #spend(subject: Subject, unit: string, model: string | undefined, amount: number): void {
    if (amount <= 0) return;
    const scopes = affectedScopes(subject);
    this.#instruments.spend.add(amount, {
      [CYCLES.scope]: scopes[Math.min(this.#scopeLevels, scopes.length) - 1] ?? '',
      [GEN_AI.requestModel]: model ?? '',
      [CYCLES.unit]: unit,
    });
  }
}

/** The model of an LLM call's event: its action names it (`beginLlmCall`'s default action). */
function modelOf(event: CyclesEvent): string | undefined {
  return event.action.kind === LLM_ACTION_KIND ? event.action.name : undefined;
}
