import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';

type JsonObject = Record<string, unknown>;

/**
 * Emulator only. The local Bedrock emulator answers with filler words and never calls tools, so this
 * SDK middleware turns each Converse answer that was offered tools into a call of the first tool
 * (the usage stays what the emulator billed) until the conversation holds `maxToolCalls` tool results.
 * That makes the agent loop the way a real model researching a question does. Never add it to a
 * client that talks to real Bedrock.
 */
export function scriptToolCalls(client: BedrockRuntimeClient, maxToolCalls: number): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      const input = args.input as JsonObject;
      const tools = (input.toolConfig as JsonObject | undefined)?.tools as
        | { toolSpec?: JsonObject }[]
        | undefined;
      const name = tools?.[0]?.toolSpec?.name;
      const messages = (input.messages as { content?: JsonObject[] }[] | undefined) ?? [];
      const done = messages
        .flatMap((message) => message.content ?? [])
        .filter((block) => 'toolResult' in block);
      const output = (result.output as unknown as JsonObject).output as
        | { message?: { content?: unknown[] } }
        | undefined;
      if (typeof name !== 'string' || output?.message === undefined || done.length >= maxToolCalls)
        return result;
      output.message.content = [
        ...(output.message.content ?? []),
        {
          toolUse: {
            toolUseId: `call-${done.length + 1}`,
            name,
            input: { model: 'anthropic.claude-3-5-haiku-20241022-v1:0' },
          },
        },
      ];
      (result.output as unknown as JsonObject).stopReason = 'tool_use';
      return result;
    },
    { step: 'initialize', name: 'exampleScriptedToolCalls' },
  );
}
