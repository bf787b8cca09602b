import { ConverseCommand, InvokeModelCommand } from '@aws-sdk/client-bedrock-runtime';
import { type BedrockEmulator, startBedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { InvalidRequestError } from '@cycles-guard/core';
import { ChatBedrockConverse } from '@langchain/aws';
import { afterEach, describe, expect, it } from 'vitest';
import { CyclesCallbackHandler, guardChatModel } from '../src/index.ts';
import { budget, guardedModel, HAIKU, priced, room, sdkClient } from './helpers.ts';

let emulator: BedrockEmulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

const converse = () =>
  new ConverseCommand({ modelId: HAIKU, messages: [{ role: 'user', content: [{ text: 'Hi' }] }] });

describe('capped client', () => {
  it('leaves the client it wraps as it was: another model on that client is neither capped nor refused', async () => {
    emulator = await startBedrockEmulator({ port: 0 });
    const probe = budget(1);
    const setup = budget(room(probe.cycles, 60, 300));
    const client = sdkClient(emulator.url);
    const model = (maxTokens: number) =>
      new ChatBedrockConverse({ model: HAIKU, region: 'us-east-1', client, maxTokens });
    const guarded = guardChatModel(model(4000), new CyclesCallbackHandler({ cycles: setup.cycles }));
    expect(Object.getPrototypeOf(guarded.client)).toBe(client);
    await guarded.invoke('Tell me about budgets.');
    await model(4000).invoke('Tell me about budgets.');
    const [capped, plain] = emulator.requests;
    expect(capped?.maxTokens).toBeLessThan(4000);
    expect(plain?.maxTokens).toBe(4000);
    expect((await setup.state()).spent).toBe(priced(setup.cycles, capped as never));
  });

  it('a second guardChatModel on the same model replaces the cap: one request, capped once, settled once', async () => {
    const probe = await guardedModel(1);
    await probe.emulator.close();
    const allocated = room(probe.cycles, 60, 300);
    const setup = await guardedModel(allocated, { maxTokens: 4000 });
    emulator = setup.emulator;
    const client = setup.model.client;
    const again = guardChatModel(setup.model, setup.handler);
    expect(Object.getPrototypeOf(again.client)).toBe(Object.getPrototypeOf(client));
    await again.invoke('Tell me about budgets.');
    const [request] = setup.emulator.requests;
    expect(setup.emulator.requests).toHaveLength(1);
    expect(request?.maxTokens).toBeLessThan(4000);
    const state = await setup.state();
    expect(state.reserved).toBe(0);
    expect(state.spent).toBe(priced(setup.cycles, request as never));
  });

  it('returns a new model and leaves the original untouched: client, callbacks, metadata', async () => {
    emulator = await startBedrockEmulator({ port: 0 });
    const setup = budget(1e12);
    const client = sdkClient(emulator.url);
    const other = new CyclesCallbackHandler({ cycles: budget(1e12).cycles });
    const original = new ChatBedrockConverse({
      model: HAIKU,
      region: 'us-east-1',
      client,
      maxTokens: 100,
      callbacks: [other],
      metadata: { team: 'search' },
    });
    const handler = new CyclesCallbackHandler({ cycles: setup.cycles });
    const metadataBefore = structuredClone(original.metadata);
    const guarded = guardChatModel(original, handler);
    expect(guarded).not.toBe(original);
    expect(guarded).toBeInstanceOf(ChatBedrockConverse);
    expect(guarded.model).toBe(HAIKU);
    expect(original.client).toBe(client);
    expect(original.callbacks).toEqual([other]);
    expect(original.metadata).toEqual(metadataBefore);
    expect(guarded.callbacks).toEqual([other, handler]);
    expect(guarded.metadata).toMatchObject({ team: 'search' });
    // The original still runs unguarded; the guarded one holds and commits.
    await original.invoke('Hi');
    expect((await setup.state()).spent).toBe(0);
    await guarded.invoke('Hi');
    expect((await setup.state()).spent).toBe(priced(setup.cycles, emulator.requests[1] as never));
    // bindTools on the guarded model keeps the guard (it binds `this`, the new model).
    const withTools = guarded.bindTools([
      { name: 'lookup', description: 'Looks up.', schema: { type: 'object', properties: {} } },
    ]);
    await withTools.invoke('Hi');
    expect(emulator.requests).toHaveLength(3);
    expect((await setup.state()).spent).toBe(
      priced(setup.cycles, emulator.requests[1] as never) +
        priced(setup.cycles, emulator.requests[2] as never),
    );
  });

  it('passes commands other than Converse through, unguarded and uncapped', async () => {
    const setup = await guardedModel(1e12);
    emulator = setup.emulator;
    const body = JSON.stringify({
      anthropic_version: 'bedrock-2023-05-31',
      max_tokens: 50,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    const output = await setup.model.client.send(
      new InvokeModelCommand({ modelId: HAIKU, body, contentType: 'application/json' }),
    );
    expect(output.$metadata.httpStatusCode).toBe(200);
    expect(setup.emulator.requests[0]?.maxTokens).toBe(50);
    expect((await setup.state()).spent).toBe(0);
  });

  it('keeps the SDK callback form of send: a Converse call without a reservation is refused to the callback', async () => {
    const setup = await guardedModel(1e12);
    emulator = setup.emulator;
    const error = await new Promise((resolve) => {
      setup.model.client.send(converse(), {}, (failure: unknown) => resolve(failure));
    });
    expect(InvalidRequestError.isInstance(error)).toBe(true);
    expect((error as InvalidRequestError).details).toMatchObject({ field: 'callbacks' });
    const output = await new Promise((resolve, reject) => {
      const body = JSON.stringify({
        anthropic_version: 'bedrock-2023-05-31',
        max_tokens: 20,
        messages: [{ role: 'user', content: 'Hi' }],
      });
      setup.model.client.send(
        new InvokeModelCommand({ modelId: HAIKU, body, contentType: 'application/json' }),
        (failure: unknown, result: unknown) => (failure ? reject(failure) : resolve(result)),
      );
    });
    expect((output as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(200);
    expect(setup.emulator.requests).toHaveLength(1);
  });

  it('refuses the callback-less streamEvents() (no version) before sending; streamEvents v2 is guarded', async () => {
    const setup = await guardedModel(1e12);
    emulator = setup.emulator;
    // Without `version`, streamEvents runs the new content-block protocol, which fires no callbacks.
    const unversioned = (setup.model as unknown as { streamEvents(input: string): AsyncIterable<unknown> })
      .streamEvents;
    const failure = await (async () => {
      for await (const _event of unversioned.call(setup.model, 'Hi')) {
        // drained only to surface the error
      }
    })().catch((error: unknown) => error);
    expect(InvalidRequestError.isInstance(failure)).toBe(true);
    expect(setup.emulator.requests).toHaveLength(0);
    expect((await setup.state()).reserved).toBe(0);
    const events: string[] = [];
    for await (const event of setup.model.streamEvents('Hi', { version: 'v2' })) events.push(event.event);
    expect(events).toContain('on_chat_model_end');
    const state = await setup.state();
    expect(state.reserved).toBe(0);
    expect(state.spent).toBe(priced(setup.cycles, setup.emulator.requests[0] as never));
  });
});
