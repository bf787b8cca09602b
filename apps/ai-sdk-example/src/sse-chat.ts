import { CyclesError } from '@cycles-guard/core';
import type { TextStreamPart, ToolSet } from 'ai';
import type { Response } from 'express';

/** One server-sent event. */
function event(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

function errorData(error: unknown): { error: string; message: string } {
  return CyclesError.isInstance(error)
    ? { error: error.code, message: error.message }
    : { error: 'MODEL_ERROR', message: error instanceof Error ? error.message : String(error) };
}

/**
 * Writes a streamText run as server-sent events: `delta`, `tool-call`, `tool-result`, `step` (with what
 * the guard granted and charged), `error`, `done`. A budget error before the first byte is thrown, so
 * the Express error handler can still answer 429 with a JSON body.
 */
export async function writeChatEvents<TOOLS extends ToolSet>(
  result: { fullStream: AsyncIterable<TextStreamPart<TOOLS>> },
  response: Response,
): Promise<void> {
  let chargedMicrocents = 0;
  let steps = 0;
  const write = (chunk: string) => {
    if (!response.headersSent) {
      response.set({ 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' }).flushHeaders();
    }
    response.write(chunk);
  };
  for await (const part of result.fullStream) {
    switch (part.type) {
      case 'error':
        if (!response.headersSent && CyclesError.isInstance(part.error)) throw part.error;
        write(event('error', errorData(part.error)));
        break;
      case 'text-delta':
        write(event('delta', { text: part.text }));
        break;
      case 'tool-call':
        write(event('tool-call', { toolName: part.toolName, input: part.input }));
        break;
      case 'tool-result':
        write(event('tool-result', { toolName: part.toolName, output: part.output }));
        break;
      case 'finish-step': {
        const cycles = part.providerMetadata?.cycles;
        chargedMicrocents += typeof cycles?.charged === 'number' ? cycles.charged : 0;
        steps++;
        write(event('step', { finishReason: part.finishReason, usage: part.usage, cycles }));
        break;
      }
      case 'finish':
        write(event('done', { steps, totalUsage: part.totalUsage, chargedMicrocents }));
        break;
      default:
        break;
    }
  }
  if (!response.writableEnded) response.end();
}
