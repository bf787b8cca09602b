import { arrayOf, field, isObject } from './json.ts';
import type { PromptSegment } from './tokens.ts';

/** A checkpoint segment; `ttl: '1h'` when the cache point or cache_control asks for a 1-hour TTL. */
function checkpoint(marker: unknown): PromptSegment {
  return field(marker, 'ttl') === '1h' ? { kind: 'cachePoint', ttl: '1h' } : { kind: 'cachePoint' };
}

/** Segments of one Converse / Nova content block (text, tool use/result as JSON, cachePoint). */
function converseBlock(block: unknown, out: PromptSegment[]): void {
  if (!isObject(block)) return;
  if (typeof block.text === 'string') out.push({ kind: 'text', text: block.text });
  if (block.cachePoint !== undefined) out.push(checkpoint(block.cachePoint));
  const toolUse = block.toolUse;
  if (isObject(toolUse))
    out.push({ kind: 'text', text: JSON.stringify({ name: toolUse.name, input: toolUse.input }) });
  const toolResult = block.toolResult;
  if (isObject(toolResult)) {
    for (const part of arrayOf(toolResult.content)) {
      if (typeof field(part, 'text') === 'string')
        out.push({ kind: 'text', text: field(part, 'text') as string });
      else if (field(part, 'json') !== undefined)
        out.push({ kind: 'text', text: JSON.stringify(field(part, 'json')) });
    }
  }
  const reasoningText = field(field(block, 'reasoningContent'), 'reasoningText');
  if (typeof field(reasoningText, 'text') === 'string') {
    out.push({ kind: 'text', text: field(reasoningText, 'text') as string });
  }
}

/**
 * Prompt segments of a Converse (or Nova messages-v1) request, in model reading order:
 * tool specs, system blocks, then each message (4-token overhead + its blocks).
 */
export function converseSegments(body: unknown): PromptSegment[] {
  const out: PromptSegment[] = [];
  for (const tool of arrayOf(field(field(body, 'toolConfig'), 'tools'))) {
    if (field(tool, 'toolSpec') !== undefined)
      out.push({ kind: 'text', text: JSON.stringify(field(tool, 'toolSpec')) });
    if (field(tool, 'cachePoint') !== undefined) out.push(checkpoint(field(tool, 'cachePoint')));
  }
  for (const block of arrayOf(field(body, 'system'))) converseBlock(block, out);
  for (const message of arrayOf(field(body, 'messages'))) {
    out.push({ kind: 'message' });
    for (const block of arrayOf(field(message, 'content'))) converseBlock(block, out);
  }
  return out;
}

/** Segments of one Anthropic content block; `cache_control` adds a checkpoint after it. */
function anthropicBlock(block: unknown, out: PromptSegment[]): void {
  if (typeof block === 'string') {
    out.push({ kind: 'text', text: block });
    return;
  }
  if (!isObject(block)) return;
  if (typeof block.text === 'string') out.push({ kind: 'text', text: block.text });
  if (typeof block.thinking === 'string') out.push({ kind: 'text', text: block.thinking });
  if (block.type === 'tool_use')
    out.push({ kind: 'text', text: JSON.stringify({ name: block.name, input: block.input }) });
  if (block.type === 'tool_result') {
    const content = block.content;
    if (typeof content === 'string') out.push({ kind: 'text', text: content });
    else for (const part of arrayOf(content)) anthropicBlock(part, out);
  }
  if (block.cache_control !== undefined) out.push(checkpoint(block.cache_control));
}

/** Prompt segments of an Anthropic Messages body: tools, system, messages. */
export function anthropicSegments(body: unknown): PromptSegment[] {
  const out: PromptSegment[] = [];
  for (const tool of arrayOf(field(body, 'tools'))) {
    if (!isObject(tool)) continue;
    const { cache_control: cacheControl, ...spec } = tool;
    out.push({ kind: 'text', text: JSON.stringify(spec) });
    if (cacheControl !== undefined) out.push(checkpoint(cacheControl));
  }
  const system = field(body, 'system');
  if (typeof system === 'string') out.push({ kind: 'text', text: system });
  else for (const block of arrayOf(system)) anthropicBlock(block, out);
  for (const message of arrayOf(field(body, 'messages'))) {
    out.push({ kind: 'message' });
    const content = field(message, 'content');
    if (typeof content === 'string') out.push({ kind: 'text', text: content });
    else for (const block of arrayOf(content)) anthropicBlock(block, out);
  }
  return out;
}

/** Prompt segments of a plain-prompt body (Llama `prompt`, Mistral `prompt`/`messages`, Titan `inputText`). */
export function plainPromptSegments(body: unknown): PromptSegment[] {
  const out: PromptSegment[] = [];
  for (const key of ['prompt', 'inputText']) {
    const text = field(body, key);
    if (typeof text === 'string') out.push({ kind: 'text', text });
  }
  for (const message of arrayOf(field(body, 'messages'))) {
    out.push({ kind: 'message' });
    const content = field(message, 'content');
    if (typeof content === 'string') out.push({ kind: 'text', text: content });
    else for (const block of arrayOf(content)) anthropicBlock(block, out);
  }
  return out;
}
