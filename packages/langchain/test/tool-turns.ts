import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';

type JsonObject = Record<string, unknown>;

/**
 * The emulator answers with filler text and never calls tools. This test-side SDK middleware turns each
 * Converse answer of a request that offers tools into a call of the first tool (usage stays the one the
 * emulator billed), until the conversation holds `maxToolResults` tool results, so an agent loops
 * turn after turn. With `Infinity` it is a runaway agent.
 */
export function callToolsEveryTurn(
  client: BedrockRuntimeClient,
  maxToolResults = Number.POSITIVE_INFINITY,
): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      const input = args.input as JsonObject;
      const toolSpec = ((input.toolConfig as JsonObject | undefined)?.tools as JsonObject[] | undefined)?.[0]
        ?.toolSpec as JsonObject | undefined;
      const messages = (input.messages as { content?: JsonObject[] }[] | undefined) ?? [];
      const toolResults = messages
        .flatMap((message) => message.content ?? [])
        .filter((block) => 'toolResult' in block);
      const output = (result.output as unknown as JsonObject).output as
        | { message?: { content?: unknown[] } }
        | undefined;
      if (toolSpec === undefined || output?.message === undefined || toolResults.length >= maxToolResults)
        return result;
      output.message.content = [
        ...(output.message.content ?? []),
        {
          toolUse: {
            toolUseId: `tool-${toolResults.length + 1}`,
            name: toolSpec.name,
            input: { query: 'budgets' },
          },
        },
      ];
      (result.output as unknown as JsonObject).stopReason = 'tool_use';
      return result;
    },
    { step: 'initialize', name: 'testCallToolsEveryTurn' },
  );
}
