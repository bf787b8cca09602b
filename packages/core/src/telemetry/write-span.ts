import { affectedScopes } from '../protocol/scopes.ts';
import type { CallRecord } from './call-record.ts';
import { BEDROCK_PROVIDER, CYCLES, GEN_AI, LLM_ACTION_KIND } from './names.ts';
import { type OtelTracer, SPAN_KIND_INTERNAL, SPAN_STATUS_ERROR } from './otel-api.ts';

/**
 * Starts and ends the span of a finished call in one go, back-dated to its reserve (start and end are
 * the `performance.now()` times the call recorded, so exact to the microsecond whenever this runs).
 * An LLM call is named after its model (`gen_ai.*`); any other action as is. A span the sampler drops
 * gets no attributes built.
 */
export function writeSpan(tracer: OtelTracer, record: CallRecord): void {
  const { opened } = record;
  const { action } = opened;
  const model = record.model ?? (action.kind === LLM_ACTION_KIND ? action.name : undefined);
  const span = tracer.startSpan(
    `cycles.guard ${model ?? action.name}`,
    { kind: SPAN_KIND_INTERNAL, startTime: record.startedAt },
    record.context,
  );
  if (!span.isRecording()) return;
  if (model !== undefined) {
    span.setAttribute(GEN_AI.operation, 'chat');
    span.setAttribute(GEN_AI.provider, BEDROCK_PROVIDER);
    span.setAttribute(GEN_AI.requestModel, model);
  }
  if (action.kind !== LLM_ACTION_KIND) {
    span.setAttribute(CYCLES.actionKind, action.kind);
    span.setAttribute(CYCLES.actionName, action.name);
  }
  span.setAttribute(CYCLES.scopes, affectedScopes(opened.subject));
  span.setAttribute(CYCLES.unit, opened.unit);
  span.setAttribute(CYCLES.estimate, opened.estimate);
  if (opened.type === 'decision') {
    span.setAttribute(CYCLES.reservationId, opened.reservationId);
    // What was held, only when it is less than the estimate (a partial hold).
    if (opened.reserved < opened.estimate) span.setAttribute(CYCLES.reserved, opened.reserved);
    if (record.maxTokens !== undefined) span.setAttribute(GEN_AI.requestMaxTokens, record.maxTokens);
    // The output limit asked for, only when the budget or a cap lowered it.
    if (record.requestedMaxTokens !== record.maxTokens)
      span.setAttribute(CYCLES.maxTokensRequested, record.requestedMaxTokens as number);
    if (record.capReason !== undefined) span.setAttribute(CYCLES.capReason, record.capReason);
    if (!record.denied) span.setAttribute(CYCLES.decision, opened.decision);
  }
  if (record.denied) span.setAttribute(CYCLES.decision, 'DENY');
  if (record.settlement !== undefined) span.setAttribute(CYCLES.settlement, record.settlement);
  if (record.actual !== undefined) span.setAttribute(CYCLES.actual, record.actual);
  if (record.charged !== undefined && record.charged !== record.actual)
    span.setAttribute(CYCLES.charged, record.charged);
  if (record.ledgerMs !== undefined) span.setAttribute(CYCLES.ledgerMs, record.ledgerMs);
  if (record.inputTokens !== undefined) span.setAttribute(GEN_AI.inputTokens, record.inputTokens);
  if (record.outputTokens !== undefined) span.setAttribute(GEN_AI.outputTokens, record.outputTokens);
  if (record.denialCode !== undefined) span.setAttribute(CYCLES.denialCode, record.denialCode);
  if (record.errorType !== undefined) span.setAttribute(GEN_AI.errorType, record.errorType);
  if (record.errorMessage !== undefined)
    span.setStatus({ code: SPAN_STATUS_ERROR, message: record.errorMessage });
  span.end(record.endedAt);
}
