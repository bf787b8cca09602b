// @cycles-guard/ai-sdk/testing: helpers for exercising guarded agent loops without a real model.
import type {
  LanguageModelV3CallOptions,
  LanguageModelV3Middleware,
  LanguageModelV3StreamPart,
  LanguageModelV3ToolCall,
} from '@ai-sdk/provider';

/** Options of {@link scriptedToolCalls}. */
export interface ScriptedToolCallsOptions {
  /** The tool the model "calls"; only steps that offer it are rewritten. */
  toolName: string;
  /**
   * Input of the call made at `step` (0 for the first model call of the run).
   * @default `{}`
   */
  input?: (step: number) => unknown;
  /**
   * How many steps call the tool before the model's own answer passes through.
   * @default Infinity (a runaway agent)
   */
  calls?: number;
}

const TOOL_CALLS = { unified: 'tool-calls', raw: 'tool_use' } as const;

/**
 * A middleware that turns a model's answer into a tool call, for models that never call tools (the
 * Bedrock emulator). The request still goes to the model and its usage is reported unchanged; only the
 * content becomes one `tool-call` with finish reason `tool-calls`. List it after `cyclesMiddleware`,
 * so the guard sees the real request and usage.
 */
export function scriptedToolCalls(options: ScriptedToolCallsOptions): LanguageModelV3Middleware {
  const limit = options.calls ?? Number.POSITIVE_INFINITY;
  const plan = (params: LanguageModelV3CallOptions): LanguageModelV3ToolCall | undefined => {
    const step = params.prompt.filter((message) => message.role === 'assistant').length;
    const offered = params.tools?.some((tool) => tool.name === options.toolName) ?? false;
    if (!offered || step >= limit) return undefined;
    return {
      type: 'tool-call',
      toolCallId: `scripted-${step}-${Math.random().toString(36).slice(2, 10)}`,
      toolName: options.toolName,
      input: JSON.stringify(options.input?.(step) ?? {}),
    };
  };
  return {
    specificationVersion: 'v3',
    async wrapGenerate({ doGenerate, params }) {
      const result = await doGenerate();
      const call = plan(params);
      return call === undefined ? result : { ...result, content: [call], finishReason: TOOL_CALLS };
    },
    async wrapStream({ doStream, params }) {
      const result = await doStream();
      const call = plan(params);
      if (call === undefined) return result;
      const stream = result.stream.pipeThrough(
        new TransformStream<LanguageModelV3StreamPart, LanguageModelV3StreamPart>({
          transform(part, controller) {
            if (part.type === 'text-start' || part.type === 'text-delta' || part.type === 'text-end') return;
            if (part.type === 'finish' && part.finishReason.unified !== 'error') {
              controller.enqueue(call);
              controller.enqueue({ ...part, finishReason: TOOL_CALLS });
              return;
            }
            controller.enqueue(part);
          },
        }),
      );
      return { ...result, stream };
    },
  };
}
