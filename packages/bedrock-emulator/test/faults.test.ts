import {
  ConverseCommand,
  ConverseStreamCommand,
  type ConverseStreamOutput,
  InvokeModelWithResponseStreamCommand,
} from '@aws-sdk/client-bedrock-runtime';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type BedrockEmulator, FAULT_HEADER, startBedrockEmulator } from '../src/index.ts';
import { caught, makeClient, SONNET, userMessage } from './helpers.ts';

let emulator: BedrockEmulator;
let client: ReturnType<typeof makeClient>['client'];

beforeAll(async () => {
  emulator = await startBedrockEmulator({ outputTokens: 100, chunkTokens: 10 });
  client = makeClient(emulator.url).client;
});
afterAll(() => emulator.close());
beforeEach(() => {
  emulator.reset();
  emulator.latency.firstByteMs = 0;
  emulator.latency.perChunkMs = 0;
});

const converse = (modelId = SONNET) => ({
  modelId,
  messages: [userMessage('hi')],
  inferenceConfig: { maxTokens: 500 },
});

async function drain(
  stream: AsyncIterable<ConverseStreamOutput> | undefined,
): Promise<ConverseStreamOutput[]> {
  const events: ConverseStreamOutput[] = [];
  for await (const event of stream ?? []) events.push(event);
  return events;
}

describe('up-front faults', () => {
  it('throttles matching requests the given number of times', async () => {
    emulator.faults.push({ kind: 'throttle', times: 2, match: { operation: 'Converse' } });
    const first = await caught(client.send(new ConverseCommand(converse())));
    expect(first.name).toBe('ThrottlingException');
    expect(first.$metadata?.httpStatusCode).toBe(429);
    await caught(client.send(new ConverseCommand(converse())));
    const third = await client.send(new ConverseCommand(converse()));
    expect(third.$metadata.httpStatusCode).toBe(200);
    expect(emulator.faults).toHaveLength(0);
    expect(
      emulator.requests.map((recorded) => [recorded.status, recorded.errorType, recorded.fault]),
    ).toEqual([
      [429, 'ThrottlingException', 'throttle'],
      [429, 'ThrottlingException', 'throttle'],
      [200, undefined, undefined],
    ]);
  });

  it('matches faults by model (raw or resolved) and maps kinds to Bedrock errors', async () => {
    emulator.faults.push(
      { kind: 'internal', match: { model: SONNET } },
      { kind: 'unavailable', match: { model: /nova/ } },
      { kind: 'validation', message: 'nope' },
    );
    const internal = await caught(client.send(new ConverseCommand(converse(`us.${SONNET}`))));
    expect([internal.name, internal.$metadata?.httpStatusCode]).toEqual(['InternalServerException', 500]);
    const unavailable = await caught(client.send(new ConverseCommand(converse('amazon.nova-pro-v1:0'))));
    expect([unavailable.name, unavailable.$metadata?.httpStatusCode]).toEqual([
      'ServiceUnavailableException',
      503,
    ]);
    const validation = await caught(client.send(new ConverseCommand(converse())));
    expect([validation.name, validation.message]).toEqual(['ValidationException', 'nope']);
  });

  it('injects a fault for one request through the fault header', async () => {
    const { client: headerClient } = makeClient(emulator.url);
    headerClient.middlewareStack.add(
      (next) => (args) => {
        (args.request as { headers: Record<string, string> }).headers[FAULT_HEADER] = 'throttle';
        return next(args);
      },
      { step: 'build', name: 'faultHeader' },
    );
    const error = await caught(headerClient.send(new ConverseCommand(converse())));
    expect(error.name).toBe('ThrottlingException');
  });
});

describe('mid-stream faults', () => {
  it('sends an exception frame that the SDK iterator throws', async () => {
    emulator.faults.push({ kind: 'exceptionMidStream', afterChunks: 3 });
    const response = await client.send(new ConverseStreamCommand(converse()));
    const events: ConverseStreamOutput[] = [];
    const error = await caught(
      (async () => {
        for await (const event of response.stream ?? []) events.push(event);
      })(),
    );
    expect(error.name).toBe('ThrottlingException');
    expect(events).toHaveLength(3);
    await emulator.waitForIdle();
    expect(emulator.requests[0]).toMatchObject({
      status: 200,
      errorType: 'ThrottlingException',
      fault: 'exceptionMidStream',
      outputTokens: 20,
      aborted: false,
    });
  });

  it('can send other exception members on Invoke streams', async () => {
    emulator.faults.push({
      kind: 'exceptionMidStream',
      exception: 'modelStreamErrorException',
      afterChunks: 1,
    });
    const response = await client.send(
      new InvokeModelWithResponseStreamCommand({
        modelId: SONNET,
        body: JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 50, messages: [] }),
      }),
    );
    const error = await caught(
      (async () => {
        for await (const _event of response.body ?? []);
      })(),
    );
    expect(error.name).toBe('ModelStreamErrorException');
  });

  it('drops the connection after N chunks', async () => {
    emulator.faults.push({ kind: 'dropMidStream', afterChunks: 2 });
    const response = await client.send(new ConverseStreamCommand(converse()));
    const events: ConverseStreamOutput[] = [];
    const error = await caught(
      (async () => {
        for await (const event of response.stream ?? []) events.push(event);
      })(),
    );
    expect(error).toBeInstanceOf(Error);
    expect(events.length).toBeLessThanOrEqual(2);
    await emulator.waitForIdle();
    expect(emulator.requests[0]).toMatchObject({ fault: 'dropMidStream', aborted: false, outputTokens: 10 });
  });

  it('does not apply mid-stream faults to non-streaming calls', async () => {
    emulator.faults.push({ kind: 'dropMidStream' });
    const response = await client.send(new ConverseCommand(converse()));
    expect(response.$metadata.httpStatusCode).toBe(200);
    expect(emulator.faults).toHaveLength(1);
  });
});

describe('latency and client aborts', () => {
  it('records a client abort mid-stream as aborted, with the tokens sent so far', async () => {
    emulator.latency.perChunkMs = 20;
    const controller = new AbortController();
    const response = await client.send(new ConverseStreamCommand(converse()), {
      abortSignal: controller.signal,
    });
    const error = await caught(
      (async () => {
        for await (const event of response.stream ?? []) {
          if (event.contentBlockDelta) controller.abort();
        }
      })(),
    );
    expect(error).toBeInstanceOf(Error);
    await emulator.waitForIdle();
    const [recorded] = emulator.requests;
    expect(recorded?.aborted).toBe(true);
    expect(recorded?.completedAt).toBeInstanceOf(Date);
    expect(recorded?.outputTokens).toBeLessThan(100);
  });

  it('records a client abort while waiting for the first byte', async () => {
    emulator.latency.firstByteMs = 300;
    const controller = new AbortController();
    const pending = client.send(new ConverseCommand(converse()), { abortSignal: controller.signal });
    await vi.waitFor(() => expect(emulator.requests).toHaveLength(1));
    controller.abort();
    expect((await caught(pending)).name).toBe('AbortError');
    await emulator.waitForIdle();
    expect(emulator.requests[0]).toMatchObject({ aborted: true, status: 0 });
  });

  it('delays the first byte and reports it in the metrics', async () => {
    emulator.latency.firstByteMs = 50;
    const started = Date.now();
    const response = await client.send(new ConverseStreamCommand(converse()));
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    const events = await drain(response.stream);
    expect(events.at(-1)?.metadata?.metrics?.latencyMs).toBeGreaterThanOrEqual(50);
  });

  it('applies a per-request latency fault to the hit request only', async () => {
    emulator.faults.push({ kind: 'latency', latency: { firstByteMs: 80 }, match: { operation: 'Converse' } });
    const slow = Date.now();
    const response = await client.send(new ConverseCommand(converse()));
    expect(Date.now() - slow).toBeGreaterThanOrEqual(75);
    expect(response.metrics?.latencyMs).toBe(80);
    const fast = await client.send(new ConverseCommand(converse()));
    expect(fast.metrics?.latencyMs).toBe(0);
    expect(emulator.requests[0]?.fault).toBe('latency');
  });

  it('waitForIdle resolves once in-flight requests finish', async () => {
    emulator.latency.firstByteMs = 100;
    const pending = client.send(new ConverseCommand(converse()));
    // waitForIdle only knows requests that have arrived, so wait for this one to arrive first.
    await vi.waitFor(() => expect(emulator.requests).toHaveLength(1));
    expect(emulator.requests[0]?.completedAt).toBeUndefined();
    await emulator.waitForIdle();
    expect(emulator.requests[0]?.completedAt).toBeInstanceOf(Date);
    await pending;
  });
});
