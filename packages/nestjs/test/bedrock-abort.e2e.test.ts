import 'reflect-metadata';
import { BedrockRuntimeClient, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { cyclesBedrockPlugin } from '@cycles-guard/bedrock';
import { type BedrockEmulator, startBedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { type Cycles as CyclesInstance, createCycles, type Settlement } from '@cycles-guard/core';
import { Controller, type INestApplication, Inject, type MessageEvent, Sse } from '@nestjs/common';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Observable } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CyclesModule, CyclesService } from '../src/index.ts';
import { startNestApp } from './support/nest-app.ts';

const MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';
const UNIT = 'USD_MICROCENTS';

let emulator: BedrockEmulator;
/** What the handler's Bedrock call ended with. */
const probe: { settlement: Settlement | undefined; deltas: number } = { settlement: undefined, deltas: 0 };

beforeAll(async () => {
  // One token per delta, slow frames: the stream is still running when the client leaves.
  emulator = await startBedrockEmulator({
    port: 0,
    outputTokens: 1_000,
    chunkTokens: 1,
    latency: { perChunkMs: 15 },
  });
});
afterAll(() => emulator.close());

@Controller()
class ChatController {
  constructor(@Inject(CyclesService) private readonly cyclesService: CyclesService) {}

  /**
   * Streams a Bedrock answer as SSE, guarded by hand (the `@cycles-guard/bedrock` plugin was not
   * available yet): the call's signal is the request context's, so a client disconnect aborts it.
   */
  @Sse('chat')
  chat(): Observable<MessageEvent> {
    return new Observable<MessageEvent>((subscriber) => {
      void (async () => {
        const call = await this.cyclesService.beginLlmCall({ model: MODEL, input: 'Tell me a story' });
        const client = new BedrockRuntimeClient({
          endpoint: emulator.url,
          region: 'us-east-1',
          credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
          requestHandler: new NodeHttpHandler(),
        });
        let outputTokens = 0;
        try {
          const response = await client.send(
            new ConverseStreamCommand({
              modelId: MODEL,
              messages: [{ role: 'user', content: [{ text: 'Tell me a story' }] }],
              inferenceConfig: { maxTokens: call.maxOutputTokens },
            }),
            { abortSignal: call.signal },
          );
          for await (const event of response.stream ?? []) {
            if (event.contentBlockDelta?.delta?.text !== undefined) {
              outputTokens += 1;
              probe.deltas += 1;
              subscriber.next({ data: event.contentBlockDelta.delta.text });
            }
          }
          probe.settlement = await call.commit({ inputTokens: call.inputTokens, outputTokens });
          subscriber.complete();
        } catch {
          probe.settlement = await call.abort({ inputTokens: call.inputTokens, outputTokens });
        }
      })();
    });
  }
}

function bedrockClient(): BedrockRuntimeClient {
  return new BedrockRuntimeClient({
    endpoint: emulator.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    requestHandler: new NodeHttpHandler(),
  });
}

/** The same stream through `cyclesBedrockPlugin()`: no signal or settlement in the handler at all. */
@Controller()
class PluginChatController {
  private readonly client = bedrockClient();

  constructor() {
    this.client.middlewareStack.use(cyclesBedrockPlugin());
  }

  @Sse('plugin-chat')
  chat(): Observable<MessageEvent> {
    return new Observable<MessageEvent>((subscriber) => {
      void (async () => {
        try {
          const response = await this.client.send(
            new ConverseStreamCommand({
              modelId: MODEL,
              messages: [{ role: 'user', content: [{ text: 'Tell me a story' }] }],
              inferenceConfig: { maxTokens: 1_000 },
            }),
          );
          for await (const event of response.stream ?? []) {
            if (event.contentBlockDelta?.delta?.text === undefined) continue;
            probe.deltas += 1;
            subscriber.next({ data: event.contentBlockDelta.delta.text });
          }
          subscriber.complete();
        } catch {
          // The plugin ended the stream because the request context aborted; it settles the hold.
        }
      })();
    });
  }
}

describe.each([['express' as const], ['fastify' as const]])('Bedrock call on %s', (platform) => {
  let app: INestApplication | undefined;
  let cycles: CyclesInstance;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('aborts the in-flight Bedrock stream when the SSE client leaves and commits partial usage', async () => {
    emulator.reset();
    probe.settlement = undefined;
    probe.deltas = 0;
    cycles = createCycles({
      heartbeat: false,
      ledgers: [{ scope: 'tenant:acme', unit: UNIT, allocated: 10 ** 9 }],
    });
    const started = await startNestApp(platform, {
      imports: [CyclesModule.forRoot({ cycles, subject: () => ({ tenant: 'acme' }) })],
      controllers: [ChatController, PluginChatController],
    });
    app = started.app;
    const controller = new AbortController();
    const response = await fetch(`${started.url}/chat`, { signal: controller.signal });
    const reader = response.body!.getReader();
    try {
      while (probe.deltas < 5) {
        const chunk = await reader.read();
        if (chunk.done) break;
      }
    } finally {
      controller.abort();
    }
    await expect.poll(() => probe.settlement?.status).toBe('committed');
    await emulator.waitForIdle();
    const [request] = emulator.requests;
    expect(request).toMatchObject({ operation: 'ConverseStream', aborted: true });
    expect(request!.outputTokens).toBeLessThan(1_000);
    const { balances } = await cycles.authority.getBalances({ tenant: 'acme' });
    const spent = balances[0]?.spent?.amount ?? 0;
    expect(balances[0]?.reserved?.amount ?? 0).toBe(0);
    expect(spent).toBeGreaterThan(0);
    // Read through a function: TypeScript narrowed `probe.settlement` to undefined at the reset above.
    const settlement = ((): Settlement | undefined => probe.settlement)();
    expect(settlement).toMatchObject({ status: 'committed', actual: spent });
    expect(settlement?.status === 'committed' && settlement.released).toBeGreaterThan(0);
  });

  it('with cyclesBedrockPlugin: the disconnect aborts the Bedrock stream and commits the partial usage', async () => {
    emulator.reset();
    probe.deltas = 0;
    cycles = createCycles({
      heartbeat: false,
      ledgers: [{ scope: 'tenant:acme', unit: UNIT, allocated: 10 ** 9 }],
    });
    const started = await startNestApp(platform, {
      imports: [CyclesModule.forRoot({ cycles, subject: () => ({ tenant: 'acme' }) })],
      controllers: [PluginChatController],
    });
    app = started.app;
    const controller = new AbortController();
    const response = await fetch(`${started.url}/plugin-chat`, { signal: controller.signal });
    const reader = response.body!.getReader();
    try {
      while (probe.deltas < 5) {
        const chunk = await reader.read();
        if (chunk.done) break;
      }
    } finally {
      controller.abort();
    }
    const acme = async (): Promise<{ spent: number; reserved: number }> => {
      const { balances } = await cycles.authority.getBalances({ tenant: 'acme' });
      return { spent: balances[0]?.spent?.amount ?? 0, reserved: balances[0]?.reserved?.amount ?? 0 };
    };
    await expect.poll(async () => (await acme()).reserved).toBe(0);
    await emulator.waitForIdle();
    const [request] = emulator.requests;
    expect(request).toMatchObject({ operation: 'ConverseStream', aborted: true });
    expect(request!.outputTokens).toBeLessThan(1_000);
    const { spent } = await acme();
    expect(spent).toBeGreaterThan(0);
    // Charged, never $0, and not the whole hold (about 125,000 microcents for 1,000 output tokens): the
    // plugin commits the input plus the output counted from the deltas received (≤ 3 tokens a word).
    expect(spent).toBeLessThan(1_000 * 125);
    expect(spent).toBeLessThanOrEqual(10_000 + 126 * (3 * request!.outputTokens + 16));
  });
});
