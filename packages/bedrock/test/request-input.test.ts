import { ConverseCommand, InvokeModelCommand } from '@aws-sdk/client-bedrock-runtime';
import type { BedrockEmulator } from '@cycles-guard/bedrock-emulator';
import { InvalidRequestError } from '@cycles-guard/core';
import { afterEach, describe, expect, it } from 'vitest';
import { guardedSetup } from './helpers.ts';

// Wrong-typed request fields (from JavaScript or untyped input) are typed INVALID_REQUEST errors naming
// the field, thrown by the plugin before any hold is taken or any byte leaves.

const HAIKU = 'anthropic.claude-3-5-haiku-20241022-v1:0';
let emulator: BedrockEmulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

const CASES: [string, () => ConverseCommand | InvokeModelCommand, string][] = [
  [
    'a number modelId',
    () => new ConverseCommand({ modelId: 123 as unknown as string, messages: [] }),
    'modelId',
  ],
  [
    'a missing modelId',
    () =>
      new ConverseCommand({ messages: [] } as unknown as ConstructorParameters<typeof ConverseCommand>[0]),
    'modelId',
  ],
  [
    'a number message text',
    () =>
      new ConverseCommand({
        modelId: HAIKU,
        messages: [{ role: 'user', content: [{ text: 'hi' }, { text: 5 as unknown as string }] }],
      }),
    'messages[0].content[1].text',
  ],
  [
    'an object system text',
    () => new ConverseCommand({ modelId: HAIKU, messages: [], system: [{ text: {} as unknown as string }] }),
    'system[0].text',
  ],
  [
    'a number text in an InvokeModel messages body',
    () =>
      new InvokeModelCommand({
        modelId: HAIKU,
        body: JSON.stringify({
          anthropic_version: 'bedrock-2023-05-31',
          max_tokens: 100,
          messages: [{ role: 'user', content: [{ type: 'text', text: 7 }] }],
        }),
      }),
    'messages[0].content[0].text',
  ],
];

describe('request input checks', () => {
  it.each(CASES)(
    'refuses %s with INVALID_REQUEST naming the field, before any hold',
    async (_name, command, field) => {
      const setup = await guardedSetup(1e12);
      emulator = setup.emulator;
      const error = await setup.client.send(command() as ConverseCommand).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(InvalidRequestError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({ code: 'INVALID_REQUEST', details: { field } });
      expect(setup.emulator.requests).toHaveLength(0);
      expect(await setup.state()).toMatchObject({ reserved: 0, spent: 0 });
    },
  );
});
