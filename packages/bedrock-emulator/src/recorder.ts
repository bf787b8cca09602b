import type { FaultKind } from './faults.ts';
import type { Operation } from './operations.ts';

/** What the emulator saw and answered for one request. */
export interface RecordedRequest {
  /** Sequence number, from 1. */
  id: number;
  /** Operation, or undefined when the path matched none. */
  operation: Operation | undefined;
  /** The model id from the path, URL-decoded. */
  modelId: string;
  /** The base model it resolved to, or undefined when unknown. */
  resolvedModelId: string | undefined;
  /** Max tokens as received, read from the family's own field; undefined when absent. */
  maxTokens: number | undefined;
  /** Which body field carried maxTokens (e.g. `inferenceConfig.maxTokens`, `max_gen_len`). */
  maxTokensField: string | undefined;
  /** Non-cached input tokens billed (Bedrock's `inputTokens`). */
  inputTokens: number;
  /** Output tokens generated (for streams: those actually sent before the end, a fault or an abort). */
  outputTokens: number;
  /** Input tokens read from the emulated prompt cache. */
  cacheReadInputTokens: number;
  /** Input tokens written to the emulated prompt cache. */
  cacheWriteInputTokens: number;
  /** Input tokens written to the cache with a 1-hour TTL (part of `cacheWriteInputTokens`). */
  cacheWrite1hInputTokens: number;
  /** The service tier the request asked for, if any. */
  serviceTier: string | undefined;
  /** Whether this was a streaming operation. */
  stream: boolean;
  /** The client closed the connection before the response finished. */
  aborted: boolean;
  /** HTTP status sent (200 for streams even when a mid-stream fault followed). */
  status: number;
  /** Bedrock error type, for error responses and mid-stream exceptions. */
  errorType: string | undefined;
  /** The injected fault that hit this request, if any. */
  fault: FaultKind | undefined;
  /** The parsed request body (JSON), for ad-hoc assertions. */
  body: unknown;
  /** When the request arrived. */
  startedAt: Date;
  /** When the response finished or the connection closed; undefined while in flight. */
  completedAt: Date | undefined;
}

/** Keeps {@link RecordedRequest}s and lets callers wait until none is in flight. */
export class Recorder {
  /** Every request so far, in arrival order. */
  readonly requests: RecordedRequest[] = [];
  #inFlight = 0;
  #waiters: Array<() => void> = [];
  #nextId = 1;

  /** Start recording a request. */
  begin(modelId: string, operation: Operation | undefined, stream: boolean): RecordedRequest {
    const record: RecordedRequest = {
      id: this.#nextId++,
      operation,
      modelId,
      resolvedModelId: undefined,
      maxTokens: undefined,
      maxTokensField: undefined,
      inputTokens: 0,
      outputTokens: 0,
      cacheReadInputTokens: 0,
      cacheWriteInputTokens: 0,
      cacheWrite1hInputTokens: 0,
      serviceTier: undefined,
      stream,
      aborted: false,
      status: 0,
      errorType: undefined,
      fault: undefined,
      body: undefined,
      startedAt: new Date(),
      completedAt: undefined,
    };
    this.requests.push(record);
    this.#inFlight++;
    return record;
  }

  /** Mark a request finished (idempotent). */
  end(record: RecordedRequest): void {
    if (record.completedAt) return;
    record.completedAt = new Date();
    this.#inFlight--;
    if (this.#inFlight === 0) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /** Resolves once no request is in flight (immediately if none is). */
  waitForIdle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Forget recorded requests (in-flight ones still finish normally). */
  clear(): void {
    this.requests.length = 0;
  }
}
