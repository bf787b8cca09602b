import type { PromptCache } from './cache.ts';
import type { Latency } from './faults.ts';
import type { OutputTokensOption } from './generator.ts';
import type { ModelInfo, ModelTable } from './models.ts';
import type { Operation } from './operations.ts';
import type { RecordedRequest } from './recorder.ts';

export type { Latency } from './faults.ts';

import type { ToolCallsOption } from './tool-calls.ts';

/** Live emulator settings, shared by every request handler. */
export interface EmulatorSettings {
  /** Seed of the default output generator. */
  seed: number;
  /** Built-in plus option models. */
  models: ModelTable;
  /** Desired output tokens (clamped to maxTokens); undefined = seeded pseudo-random. */
  outputTokens: OutputTokensOption | undefined;
  /** Live latency settings. */
  latency: Latency;
  /** Tokens per stream delta (1..64). */
  chunkTokens: number;
  /** Whether Converse answers requests that offer tools with a tool call. */
  toolCalls: ToolCallsOption | undefined;
  /** Application inference profiles: profile ARN → the model id it runs. */
  inferenceProfiles: Map<string, string>;
}

/** Bedrock's processing tiers (`serviceTier`). */
export type ServiceTier = 'priority' | 'default' | 'flex' | 'reserved';
export const SERVICE_TIERS: readonly ServiceTier[] = ['priority', 'default', 'flex', 'reserved'];

/** Everything an operation handler needs about the current request. */
export interface OperationContext {
  operation: Operation;
  /** Decoded model id from the path. */
  modelId: string;
  resolvedModelId: string;
  model: ModelInfo;
  /** Parsed JSON body. */
  body: unknown;
  record: RecordedRequest;
  settings: EmulatorSettings;
  cache: PromptCache;
  requestId: string;
  /** The tier the request asked for (Converse `serviceTier.type`, InvokeModel header), if any. */
  serviceTier: ServiceTier | undefined;
}

/** A prepared stream frame and the cumulative output tokens sent once it has gone out. */
export interface StreamFrame {
  bytes: Uint8Array;
  outputTokens: number;
}

/** What a handler wants sent back. */
export type Reply =
  | { kind: 'json'; status: number; body: unknown; headers?: Record<string, string> }
  | { kind: 'stream'; frames: StreamFrame[]; headers?: Record<string, string> };

/** The invocation latency the emulator reports for a response with `frames` stream frames. */
export function reportedLatencyMs(settings: EmulatorSettings, frames: number): number {
  return (settings.latency.firstByteMs ?? 0) + (settings.latency.perChunkMs ?? 0) * Math.max(0, frames - 1);
}
