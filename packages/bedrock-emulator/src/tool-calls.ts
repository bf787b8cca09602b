import { arrayOf, field, isObject } from './json.ts';
import { countTextTokens } from './tokens.ts';

/**
 * Makes Converse / ConverseStream answer requests that offer tools with a tool call, so agent loops
 * (AI SDK tool steps, LangChain agents) run offline. Only requests with `toolConfig.tools` are affected.
 */
export interface ToolCallsOption {
  /**
   * Turns that end in a tool call, counted by the assistant messages already in the conversation; later
   * turns answer in text.
   * @default Infinity: every turn calls a tool (a runaway agent)
   */
  turns?: number;
  /** Name of the tool to call. @default the first tool offered */
  tool?: string;
  /** Input of the call at `turn` (0 for the first). @default a minimal value of the tool's input JSON schema */
  input?: (turn: number, tool: string) => unknown;
}

/** A tool call the emulator answers with. */
export interface PlannedToolCall {
  toolUseId: string;
  name: string;
  input: unknown;
  /** Output tokens of the call: the rule for a `toolUse` block in a prompt (JSON of name and input). */
  outputTokens: number;
}

/** A value that satisfies the common JSON-schema shapes tool inputs use (zod, LangChain, hand-written). */
export function sampleOfSchema(schema: unknown): unknown {
  if (!isObject(schema)) return {};
  if ('const' in schema) return schema.const;
  const choices = arrayOf(schema.enum);
  if (choices.length > 0) return choices[0];
  const variants = arrayOf(schema.anyOf ?? schema.oneOf);
  if (variants.length > 0) return sampleOfSchema(variants[0]);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'string':
      return 'budgets';
    case 'integer':
    case 'number':
      return typeof schema.minimum === 'number' ? schema.minimum : 1;
    case 'boolean':
      return true;
    case 'null':
      return null;
    case 'array':
      return typeof schema.minItems === 'number' && schema.minItems > 0 ? [sampleOfSchema(schema.items)] : [];
    default: {
      const properties = isObject(schema.properties) ? schema.properties : {};
      const required = arrayOf(schema.required).filter((name): name is string => typeof name === 'string');
      return Object.fromEntries(required.map((name) => [name, sampleOfSchema(properties[name])]));
    }
  }
}

/** The tool call a Converse request gets under `option`, or undefined for a plain text answer. */
export function planToolCall(
  option: ToolCallsOption | undefined,
  body: unknown,
  requestId: string,
): PlannedToolCall | undefined {
  if (option === undefined) return undefined;
  const specs = arrayOf(field(field(body, 'toolConfig'), 'tools'))
    .map((tool) => field(tool, 'toolSpec'))
    .filter(isObject);
  const spec =
    option.tool === undefined ? specs[0] : specs.find((candidate) => candidate.name === option.tool);
  if (spec === undefined || typeof spec.name !== 'string') return undefined;
  const turn = arrayOf(field(body, 'messages')).filter(
    (message) => field(message, 'role') === 'assistant',
  ).length;
  if (turn >= (option.turns ?? Number.POSITIVE_INFINITY)) return undefined;
  const input = option.input?.(turn, spec.name) ?? sampleOfSchema(field(field(spec, 'inputSchema'), 'json'));
  return {
    toolUseId: `tooluse_${requestId.replaceAll('-', '').slice(0, 22)}`,
    name: spec.name,
    input,
    outputTokens: countTextTokens(JSON.stringify({ name: spec.name, input })),
  };
}
