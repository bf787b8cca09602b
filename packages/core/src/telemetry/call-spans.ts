import type { CyclesEvent, DecisionEvent } from '../events.ts';
import type { LlmCall } from '../llm/llm-call.ts';
import { type CallRecord, openRecord } from './call-record.ts';
import type { OtelApi } from './otel-api.ts';
import { SettledCalls } from './settled-calls.ts';

type Event<T extends CyclesEvent['type']> = Extract<CyclesEvent, { type: T }>;

/**
 * One span per guarded call, from its reserve to its settlement (or its refusal), with the budget
 * outcome as attributes. A granted hold is kept as a plain record by reservation id (`maxOpenSpans`);
 * when it settles the record is finished and queued, and its span is started and ended in one go on the
 * next turn, back-dated to the reserve, with the call's own times. That is safe because the span is
 * never made active (no `startActiveSpan`, no `context.with`): nothing can be parented under it while
 * the call runs, so a span built after the call loses no child. Its parent is the context the hold was
 * granted in, kept with the record.
 */
export class CallSpans {
  readonly #api: OtelApi;
  readonly #maxOpen: number;
  readonly #open = new Map<string, CallRecord>();
  /** Released holds, until their span is written: a refusal that returned its hold follows its release. */
  readonly #released = new Map<string, CallRecord>();
  readonly #settled: SettledCalls;

  /**
   * `write` turns a finished record into its span and ledger timings, on the turn after it settled; at
   * most `maxOpenSpans` holds are kept open and `maxPendingSpans` finished calls wait for it.
   */
  constructor(
    api: OtelApi,
    write: (record: CallRecord) => void,
    limits: { maxOpenSpans: number; maxPendingSpans: number },
  ) {
    this.#api = api;
    this.#maxOpen = limits.maxOpenSpans;
    this.#settled = new SettledCalls(write, limits.maxPendingSpans, () => this.#released.clear());
  }

  /** Calls granted and not settled yet (the live holds this process knows of). */
  get openCount(): number {
    return this.#open.size;
  }

  /** Finished calls dropped before their span was written (more than `maxPendingSpans` in one turn). */
  get dropped(): number {
    return this.#settled.dropped;
  }

  /** Writes the spans of every finished call now, rather than on the next turn. */
  flush(): void {
    this.#settled.flush();
  }

  /** A hold was granted: remembered until it settles; its span starts when the reserve was sent. */
  decision(event: DecisionEvent): void {
    if (this.#open.size >= this.#maxOpen) this.#evictOldest();
    const ledgerMs = event.ledgerMs;
    const record = openRecord(
      event,
      this.#api.context.active(),
      performance.now() - (ledgerMs ?? 0),
      ledgerMs,
    );
    this.#open.set(event.reservationId, record);
  }

  /** What `beginLlmCall` decided: the model, and the output limit asked for and sent. */
  llmCall(call: LlmCall): void {
    const record = this.#open.get(call.reservationId);
    if (record === undefined) return;
    record.model = call.model.modelId;
    record.requestedMaxTokens = call.requestedMaxOutputTokens;
    record.maxTokens = call.maxOutputTokens;
  }

  capped(event: Event<'capped'>): void {
    const record = this.#open.get(event.reservationId);
    if (record !== undefined) record.capReason = event.reason;
  }

  cutoff(event: Event<'cutoff'>): void {
    const record = this.#open.get(event.reservationId);
    if (record !== undefined) record.cutoff = true;
  }

  commit(event: Event<'commit'>): void {
    const record = this.#take(event.reservationId);
    if (record === undefined) return;
    record.settlement = event.viaEvent ? 'committed_via_event' : record.cutoff ? 'cutoff' : 'committed';
    record.actual = event.actual;
    record.charged = event.charged;
    record.ledgerMs = (record.reserveMs ?? 0) + (event.ledgerMs ?? 0);
    record.settleMs = event.ledgerMs;
    record.settledBy = 'commit';
    const metrics = event.metrics;
    if (metrics !== undefined) {
      record.inputTokens = metrics.tokensInput;
      record.outputTokens = metrics.tokensOutput;
    }
    this.#finish(record);
  }

  /** Kept by id until its span is written: a call refused after its hold reports its denial right after. */
  release(event: Event<'release'>): void {
    const record = this.#take(event.reservationId);
    if (record === undefined) return;
    record.settlement = 'released';
    record.ledgerMs = (record.reserveMs ?? 0) + (event.ledgerMs ?? 0);
    record.settleMs = event.ledgerMs;
    record.settledBy = 'release';
    this.#released.set(event.reservationId, record);
    this.#finish(record);
  }

  settleError(event: Event<'settle-error'>): void {
    const record = this.#take(event.reservationId);
    if (record === undefined) return;
    record.settlement = 'failed';
    record.errorType = event.code;
    record.errorMessage = event.message;
    this.#finish(record);
  }

  /** A refusal: ends the call's span, or is a span of its own when no hold was taken. */
  denial(event: Event<'denial'>): void {
    const id = event.reservationId;
    const released = id === undefined ? undefined : this.#released.get(id);
    const held = released ?? (id === undefined ? undefined : this.#take(id));
    const record =
      held ??
      openRecord(
        event,
        this.#api.context.active(),
        performance.now() - (event.ledgerMs ?? 0),
        event.ledgerMs,
      );
    record.denied = true;
    record.settlement = undefined;
    record.ledgerMs = event.ledgerMs;
    record.denialCode = event.code;
    record.errorType = event.code;
    record.errorMessage = event.message;
    // A released hold is queued already: the refusal only changes what its span will say.
    if (released === undefined) this.#finish(record);
  }

  failOpen(event: Event<'fail-open'>): void {
    const record = openRecord(event, this.#api.context.active(), performance.now(), undefined);
    record.settlement = 'unguarded';
    record.denialCode = event.code;
    this.#finish(record);
  }

  #finish(record: CallRecord): void {
    record.endedAt = performance.now();
    this.#settled.push(record);
  }

  #take(reservationId: string): CallRecord | undefined {
    const record = this.#open.get(reservationId);
    if (record !== undefined) this.#open.delete(reservationId);
    return record;
  }

  #evictOldest(): void {
    const oldest = this.#open.keys().next();
    if (oldest.done === true) return;
    const record = this.#take(oldest.value);
    if (record === undefined) return;
    record.settlement = 'untracked';
    this.#finish(record);
  }
}
