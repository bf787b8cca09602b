import { asCount, asObject, type JsonObject } from '@cycles-guard/bedrock/wire';
import type { EstimateInput, TokenUsage } from '@cycles-guard/core/llm';
import type { Serialized } from '@langchain/core/load/serializable';
import type { BaseMessage } from '@langchain/core/messages';
import type { LLMResult } from '@langchain/core/outputs';

// Translation only: LangChain's callback arguments to the shapes core's call guard takes.

function contentTexts(content: unknown): string[] {
  if (typeof content === 'string') return [content];
  if (!Array.isArray(content)) return [];
  // Text blocks count as text; images, tool blocks and the rest are estimated from their JSON.
  return content.map((block) => {
    const object = asObject(block);
    return typeof object?.text === 'string' ? object.text : JSON.stringify(block);
  });
}

/** What core estimates the input from: system prompts, turns (tool calls included) and tool specs. */
export function messagesInput(
  messages: BaseMessage[],
  invocationParams: JsonObject | undefined,
): EstimateInput {
  const system: string[] = [];
  const turns: { role: string; content: string[] }[] = [];
  for (const message of messages) {
    const role = message.type;
    const content = contentTexts(message.content);
    if (role === 'system') {
      system.push(...content);
      continue;
    }
    const toolCalls = (message as { tool_calls?: unknown[] }).tool_calls;
    if (Array.isArray(toolCalls) && toolCalls.length > 0) content.push(JSON.stringify(toolCalls));
    turns.push({ role, content });
  }
  const specs = toolSpecs(invocationParams);
  const input: EstimateInput = { system, messages: turns };
  // Most calls have no tools: no mapped copy and no spread for them.
  if (specs.length > 0) input.tools = specs.map((tool) => JSON.stringify(tool));
  return input;
}

/** Input of a text-completion model (`handleLLMStart`). */
export function promptsInput(prompts: string[]): EstimateInput {
  return { messages: prompts.map((prompt) => ({ role: 'user', content: [prompt] })) };
}

function toolSpecs(params: JsonObject | undefined): unknown[] {
  const bedrockTools = asObject(params?.toolConfig)?.tools;
  if (Array.isArray(bedrockTools)) return bedrockTools;
  return Array.isArray(params?.tools) ? params.tools : [];
}

/** The output limit the model was configured with (Bedrock `inferenceConfig.maxTokens`, or the common names). */
export function requestedMaxTokens(params: JsonObject | undefined): number | undefined {
  return (
    asCount(asObject(params?.inferenceConfig)?.maxTokens) ??
    asCount(params?.maxTokens) ??
    asCount(params?.max_tokens) ??
    asCount(params?.max_completion_tokens)
  );
}

/** Extended-thinking budget of `additionalModelRequestFields` (Anthropic `thinking`, Nova `reasoningConfig`). */
export function reasoningBudget(params: JsonObject | undefined): number | undefined {
  const fields = asObject(params?.additionalModelRequestFields);
  const thinking = asObject(fields?.thinking);
  if (thinking !== undefined && thinking.type !== 'disabled') return asCount(thinking.budget_tokens);
  const reasoning = asObject(fields?.reasoning_config) ?? asObject(fields?.reasoningConfig);
  if (reasoning === undefined || reasoning.type === 'disabled') return undefined;
  return asCount(reasoning.budget_tokens) ?? asCount(reasoning.budgetTokens);
}

/** The model id to price: `ls_model_name` (set by every LangChain chat model), else the serialized kwargs. */
export function modelIdOf(llm: Serialized, metadata: JsonObject | undefined): string | undefined {
  const named = metadata?.ls_model_name;
  if (typeof named === 'string' && named !== '') return named;
  const kwargs = asObject((llm as { kwargs?: unknown }).kwargs);
  for (const key of ['model', 'model_id', 'modelId', 'model_name', 'modelName']) {
    const value = kwargs?.[key];
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}

/** The agent turn: LangGraph's superstep (`langgraph_step`), present for `createAgent` and ReAct graphs. */
export function turnOf(metadata: JsonObject | undefined): number | undefined {
  return asCount(metadata?.langgraph_step);
}

/**
 * Usage of a finished run from `usage_metadata` (streaming and not), else `llmOutput.tokenUsage`.
 * LangChain's `input_tokens` includes cache reads and writes; core prices those apart.
 */
export function usageOf(output: LLMResult): TokenUsage | undefined {
  // Nested loops rather than generations.flat(): this runs at the end of every call.
  for (const generations of output.generations) {
    for (const generation of generations) {
      const usage = generationUsage(generation);
      if (usage !== undefined) return usage;
    }
  }
  const tokenUsage = asObject(output.llmOutput?.tokenUsage);
  const prompt = asCount(tokenUsage?.promptTokens);
  const completion = asCount(tokenUsage?.completionTokens);
  return prompt === undefined || completion === undefined
    ? undefined
    : { inputTokens: prompt, outputTokens: completion };
}

/** Usage of one generation's message (`usage_metadata`), when complete. */
function generationUsage(generation: unknown): TokenUsage | undefined {
  const usage = asObject(asObject(asObject(generation)?.message)?.usage_metadata);
  const input = asCount(usage?.input_tokens);
  const outputTokens = asCount(usage?.output_tokens);
  if (usage === undefined || input === undefined || outputTokens === undefined) return undefined;
  const details = asObject(usage.input_token_details);
  const cacheRead = asCount(details?.cache_read) ?? 0;
  const cacheWrite = asCount(details?.cache_creation) ?? 0;
  const result: TokenUsage = { inputTokens: Math.max(0, input - cacheRead - cacheWrite), outputTokens };
  if (cacheRead > 0) result.cacheReadInputTokens = cacheRead;
  if (cacheWrite > 0) result.cacheWriteInputTokens = cacheWrite;
  return result;
}
