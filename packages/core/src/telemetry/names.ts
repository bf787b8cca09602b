// Every attribute and metric name telemetry emits, in one place: the GenAI semantic conventions are
// still moving (docs/FRAMEWORKS.md §10 B1), so a rename is a one-line change here.

/** GenAI semantic-convention attributes (`gen_ai.*`), used where they exist. */
export const GEN_AI = {
  operation: 'gen_ai.operation.name',
  provider: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  requestMaxTokens: 'gen_ai.request.max_tokens',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  errorType: 'error.type',
} as const;

/** Our own attributes, under `cycles.`. */
export const CYCLES = {
  scopes: 'cycles.scopes',
  scope: 'cycles.scope',
  actionKind: 'cycles.action.kind',
  actionName: 'cycles.action.name',
  reservationId: 'cycles.reservation_id',
  decision: 'cycles.decision',
  unit: 'cycles.unit',
  estimate: 'cycles.estimate',
  reserved: 'cycles.reserved',
  maxTokensRequested: 'cycles.max_tokens.requested',
  capReason: 'cycles.cap.reason',
  actual: 'cycles.actual',
  charged: 'cycles.charged',
  settlement: 'cycles.settlement',
  denialCode: 'cycles.denial.code',
  ledgerMs: 'cycles.ledger_ms',
  reason: 'cycles.reason',
  model: 'cycles.model',
} as const;

/** Metric instrument names. */
export const METRICS = {
  spend: 'cycles.spend',
  denials: 'cycles.denials',
  capCuts: 'cycles.cap_cuts',
  tokensRequested: 'cycles.max_tokens.requested',
  tokensGranted: 'cycles.max_tokens.granted',
  liveHolds: 'cycles.holds.live',
  reserveDuration: 'cycles.ledger.reserve.duration',
  commitDuration: 'cycles.ledger.commit.duration',
  releaseDuration: 'cycles.ledger.release.duration',
  outboxDepth: 'cycles.settlement.outbox.depth',
  droppedSpans: 'cycles.telemetry.dropped_spans',
} as const;

/** `gen_ai.provider.name` of Bedrock. */
export const BEDROCK_PROVIDER = 'aws.bedrock';

/** The action kind of LLM calls (`beginLlmCall`'s default). */
export const LLM_ACTION_KIND = 'llm.completion';
