import type { BedrockErrorType } from './errors.ts';
import { isStreamOperation, type Operation } from './operations.ts';

/** Simulated latency. */
export interface Latency {
  /** Delay before the response starts (status line and headers). @default 0 */
  firstByteMs?: number;
  /** Delay before each stream frame after the first. @default 0 */
  perChunkMs?: number;
}

/**
 * What a fault does. Mid-stream kinds only apply to streaming operations; `latency` only slows the
 * request; `resetAfterRequest` reads the whole request (Bedrock would have run and billed it), then drops
 * the connection without an answer.
 */
export type FaultKind =
  | 'latency'
  | 'resetAfterRequest'
  | 'throttle'
  | 'validation'
  | 'internal'
  | 'unavailable'
  | 'exceptionMidStream'
  | 'dropMidStream';

/** Exception members an event stream can carry (camelCase, as on the wire). */
export type StreamExceptionType =
  | 'throttlingException'
  | 'internalServerException'
  | 'modelStreamErrorException'
  | 'serviceUnavailableException'
  | 'validationException';

/** A fault to inject into matching requests. */
export interface Fault {
  kind: FaultKind;
  /** Only requests matching every given field are hit. Model matches the raw or resolved id. */
  match?: { model?: string | RegExp; operation?: Operation };
  /** How many matching requests to hit before the fault is used up. @default 1 (use `Infinity` for always) */
  times?: number;
  /** Frames sent before a mid-stream fault fires. @default 1 */
  afterChunks?: number;
  /** Error message. @default the usual Bedrock wording for the kind */
  message?: string;
  /** Exception member for `exceptionMidStream`. @default 'throttlingException' */
  exception?: StreamExceptionType;
  /** Latency for the hit request only, on top of (replacing field by field) the emulator's latency. */
  latency?: Latency;
}

/**
 * Request header that injects a fault into that single request, e.g. `exceptionMidStream;afterChunks=2`,
 * `throttle;message=slow%20down` or `latency;firstByteMs=200;perChunkMs=10`.
 */
export const FAULT_HEADER = 'x-bedrock-emulator-fault';

/** Error type, default message for the up-front fault kinds. */
export const UPFRONT_FAULTS: Record<string, { type: BedrockErrorType; message: string }> = {
  throttle: { type: 'ThrottlingException', message: 'Too many requests, please wait before trying again.' },
  validation: { type: 'ValidationException', message: 'Emulated validation failure.' },
  internal: { type: 'InternalServerException', message: 'The server encountered an internal error.' },
  unavailable: { type: 'ServiceUnavailableException', message: 'Bedrock is unable to process your request.' },
};

const KINDS: readonly FaultKind[] = [
  'latency',
  'resetAfterRequest',
  'throttle',
  'validation',
  'internal',
  'unavailable',
  'exceptionMidStream',
  'dropMidStream',
];

/** Parse the {@link FAULT_HEADER} value; unknown kinds are ignored. */
export function parseFaultHeader(value: string | undefined): Fault | undefined {
  if (!value) return undefined;
  const [kind, ...params] = value.split(';').map((part) => part.trim());
  if (!KINDS.includes(kind as FaultKind)) return undefined;
  const fault: Fault = { kind: kind as FaultKind };
  for (const param of params) {
    const [name, raw] = param.split('=');
    if (name === 'afterChunks' && raw) fault.afterChunks = Number(raw);
    if (name === 'exception' && raw) fault.exception = raw as StreamExceptionType;
    if (name === 'message' && raw) fault.message = decodeURIComponent(raw);
    if (name === 'firstByteMs' && raw) fault.latency = { ...fault.latency, firstByteMs: Number(raw) };
    if (name === 'perChunkMs' && raw) fault.latency = { ...fault.latency, perChunkMs: Number(raw) };
  }
  return fault;
}

function matches(fault: Fault, operation: Operation, modelIds: readonly string[]): boolean {
  const midStream = fault.kind === 'exceptionMidStream' || fault.kind === 'dropMidStream';
  if (midStream && !isStreamOperation(operation)) return false;
  if (fault.match?.operation && fault.match.operation !== operation) return false;
  const model = fault.match?.model;
  if (model === undefined) return true;
  return modelIds.some((id) => (typeof model === 'string' ? id === model : model.test(id)));
}

/**
 * Take the first fault in `faults` that matches, counting one use and removing it when used up.
 * Mutates `faults` on purpose: it is the emulator's live queue that tests push into.
 */
export function takeFault(
  faults: Fault[],
  operation: Operation,
  modelIds: readonly string[],
): Fault | undefined {
  const index = faults.findIndex((fault) => matches(fault, operation, modelIds));
  if (index < 0) return undefined;
  const fault = faults[index] as Fault;
  const remaining = (fault.times ?? 1) - 1;
  if (remaining <= 0) faults.splice(index, 1);
  else fault.times = remaining;
  return fault;
}
