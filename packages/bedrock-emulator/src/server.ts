import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PromptCache } from './cache.ts';
import type { EmulatorSettings, Latency, OperationContext, Reply } from './context.ts';
import { handleConverse } from './converse.ts';
import { handleCountTokens } from './count-tokens.ts';
import { BedrockError, malformedInput, validationError } from './errors.ts';
import { FAULT_HEADER, type Fault, parseFaultHeader, takeFault, UPFRONT_FAULTS } from './faults.ts';
import type { OutputTokensOption } from './generator.ts';
import { handleInvokeModel } from './invoke-model.ts';
import { BUILTIN_MODELS, type ModelTable, resolveModel } from './models.ts';
import { isStreamOperation } from './operations.ts';
import {
  findProfile,
  inferenceProfileBody,
  matchProfileRoute,
  profileNotFound,
  profileTable,
  readServiceTier,
} from './profiles.ts';
import { type RecordedRequest, Recorder } from './recorder.ts';
import { type Exchange, sendError, sendReply } from './respond.ts';
import { matchRoute } from './routes.ts';
import type { ToolCallsOption } from './tool-calls.ts';

/** Options of {@link startBedrockEmulator}. */
export interface BedrockEmulatorOptions {
  /** Port to listen on; 0 picks a free one. @default 0 */
  port?: number;
  /** Interface to bind. @default '127.0.0.1' */
  host?: string;
  /** Seed of the default pseudo-random output lengths and words. @default 1 */
  seed?: number;
  /** Extra or overriding models, keyed by base model id. */
  models?: ModelTable;
  /** Desired output tokens per request (always clamped to the request's maxTokens). @default seeded 8..200 */
  outputTokens?: OutputTokensOption;
  /** Simulated latency. */
  latency?: Latency;
  /** Tokens per stream delta, 1..64. @default 16 */
  chunkTokens?: number;
  /** Faults queued from the start. */
  faults?: Fault[];
  /**
   * Answer Converse requests that offer tools with a tool call (`true`: every turn calls the first tool).
   * @default false: always a text answer
   */
  toolCalls?: boolean | ToolCallsOption;
  /**
   * Application inference profiles the emulator knows: profile ARN (or bare id, given a us-east-1 ARN)
   * → model id. Runtime calls accept the profile ARN as `modelId`, and `GET /inference-profiles/{id}`
   * (the control plane's GetInferenceProfile) answers with the profile's foundation-model ARN.
   */
  inferenceProfiles?: Record<string, string>;
}

/** A running emulator. */
export interface BedrockEmulator {
  /** Base URL, e.g. `http://127.0.0.1:40123`: pass it as the SDK `endpoint`. */
  readonly url: string;
  readonly port: number;
  /** Every request received, in order (live array). */
  readonly requests: RecordedRequest[];
  /** Live fault queue: push to inject, the emulator removes used-up faults. */
  readonly faults: Fault[];
  /** Live latency settings; mutate to change them between requests. */
  readonly latency: Latency;
  /** Resolves once no request is in flight, so recorded requests are final. */
  waitForIdle(): Promise<void>;
  /** Clear recorded requests, queued faults and the prompt cache. */
  reset(): void;
  /** Stop listening and drop open connections. */
  close(): Promise<void>;
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function dispatch(context: OperationContext): Reply {
  switch (context.operation) {
    case 'Converse':
      return handleConverse(context, false);
    case 'ConverseStream':
      return handleConverse(context, true);
    case 'InvokeModel':
      return handleInvokeModel(context, false);
    case 'InvokeModelWithResponseStream':
      return handleInvokeModel(context, true);
    case 'CountTokens':
      return handleCountTokens(context);
  }
}

/** Start a local Bedrock Runtime (HTTP/1.1). */
export async function startBedrockEmulator(options: BedrockEmulatorOptions = {}): Promise<BedrockEmulator> {
  const settings: EmulatorSettings = {
    seed: options.seed ?? 1,
    models: { ...BUILTIN_MODELS, ...options.models },
    outputTokens: options.outputTokens,
    latency: { ...options.latency },
    chunkTokens: Math.min(64, Math.max(1, options.chunkTokens ?? 16)),
    toolCalls: options.toolCalls === true ? {} : options.toolCalls || undefined,
    inferenceProfiles: profileTable(options.inferenceProfiles),
  };
  const recorder = new Recorder();
  const cache = new PromptCache();
  const faults: Fault[] = [...(options.faults ?? [])];

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const profileId = matchProfileRoute(request.method, request.url);
    if (profileId !== undefined) {
      answerProfile(request, response, profileId, requestId);
      return;
    }
    const route = matchRoute(request.method, request.url);
    const record = recorder.begin(
      route?.modelId ?? '',
      route?.operation,
      route ? isStreamOperation(route.operation) : false,
    );
    const exchange: Exchange = { request, response, record, settings, requestId, droppedByEmulator: false };
    response.on('close', () => {
      if (!response.writableFinished && !exchange.droppedByEmulator) record.aborted = true;
      recorder.end(record);
    });
    try {
      const raw = await readBody(request);
      if (!route) throw new BedrockError('UnknownOperationException', 'Unknown operation.');
      let body: unknown = {};
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch {
          throw malformedInput('#: invalid JSON body');
        }
      }
      record.body = body;
      const profile = findProfile(settings.inferenceProfiles, route.modelId);
      const resolution = resolveModel(
        profile === undefined ? route.modelId : (settings.inferenceProfiles.get(profile) ?? ''),
        settings.models,
      );
      if (!resolution.ok) {
        throw resolution.reason === 'invalid'
          ? validationError('The provided model identifier is invalid.')
          : new BedrockError(
              'ResourceNotFoundException',
              'Could not resolve the foundation model from the provided model identifier.',
            );
      }
      record.resolvedModelId = resolution.resolvedModelId;
      const serviceTier = readServiceTier(
        body,
        route.operation.startsWith('Invoke')
          ? (request.headers['x-amzn-bedrock-service-tier'] as string | undefined)
          : undefined,
      );
      record.serviceTier = serviceTier;
      const fault =
        parseFaultHeader(request.headers[FAULT_HEADER] as string | undefined) ??
        takeFault(faults, route.operation, [route.modelId, resolution.resolvedModelId]);
      if (fault) record.fault = fault.kind;
      if (fault?.kind === 'resetAfterRequest') {
        request.socket.destroy();
        return;
      }
      if (fault?.latency) {
        exchange.settings = { ...settings, latency: { ...settings.latency, ...fault.latency } };
      }
      const upfront = fault ? UPFRONT_FAULTS[fault.kind] : undefined;
      if (upfront) throw new BedrockError(upfront.type, fault?.message ?? upfront.message);
      const reply = dispatch({
        operation: route.operation,
        modelId: route.modelId,
        resolvedModelId: resolution.resolvedModelId,
        model: resolution.model,
        body,
        record,
        settings: exchange.settings,
        cache,
        requestId,
        serviceTier,
      });
      await sendReply(exchange, reply, fault);
    } catch (error) {
      const bedrockError =
        error instanceof BedrockError
          ? error
          : new BedrockError(
              'InternalServerException',
              error instanceof Error ? error.message : String(error),
            );
      await sendError(exchange, bedrockError);
    }
  }

  function answerProfile(
    request: IncomingMessage,
    response: ServerResponse,
    identifier: string,
    requestId: string,
  ): void {
    request.resume();
    const arn = findProfile(settings.inferenceProfiles, identifier);
    const error = arn === undefined ? profileNotFound(identifier) : undefined;
    const body = JSON.stringify(
      error === undefined
        ? inferenceProfileBody(arn as string, settings.inferenceProfiles.get(arn as string) ?? '')
        : { message: error.message },
    );
    const headers: Record<string, string | number> = {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'x-amzn-requestid': requestId,
    };
    if (error !== undefined) headers['x-amzn-errortype'] = error.type;
    response.writeHead(error?.status ?? 200, headers);
    response.end(body);
  }

  const server = createServer((request, response) => {
    void handle(request, response);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host && options.host !== '0.0.0.0' ? options.host : '127.0.0.1';

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    requests: recorder.requests,
    faults,
    latency: settings.latency,
    waitForIdle: () => recorder.waitForIdle(),
    reset() {
      recorder.clear();
      faults.length = 0;
      cache.clear();
    },
    close() {
      return new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}
