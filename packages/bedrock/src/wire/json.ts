import { InvalidRequestError } from '@cycles-guard/core';
/** A plain JSON object, narrowed from `unknown`. */
export type JsonObject = Record<string, unknown>;

/** The value as an object, or undefined when it is not a plain object. */
export function asObject(value: unknown): JsonObject | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as JsonObject)
    : undefined;
}

/** A non-negative integer field, or undefined. */
export function asCount(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/** Content-block fields other than `text` that are estimated from their JSON (tool uses/results, reasoning). */
const JSON_BLOCK_KEYS = ['toolUse', 'toolResult', 'reasoningContent', 'input', 'content'];

/** Texts of a Converse/Nova content array (`[{ text }]`), or a bare string; `field` names it in errors. */
export function textsOf(content: unknown, field = 'content'): string[] {
  if (typeof content === 'string') return [content];
  if (!Array.isArray(content)) return [];
  const texts: string[] = [];
  for (let index = 0; index < content.length; index++)
    appendTexts(texts, content[index], `${field}[${index}]`);
  return texts;
}

/**
 * Appends the texts of one content block (see {@link textsOf}). A `text` that is not a string would be
 * counted as nothing (a hold too small): INVALID_REQUEST naming it, before any hold is taken.
 */
export function appendTexts(texts: string[], block: unknown, field = 'content'): void {
  const object = asObject(block);
  if (object === undefined) return;
  if (typeof object.text === 'string') texts.push(object.text);
  else if (object.text !== undefined) {
    throw new InvalidRequestError(`${field}.text must be a string, got ${typeName(object.text)}`, {
      details: { field: `${field}.text` },
    });
  }
  // Tool uses/results and reasoning count too: estimate their JSON.
  for (const key of JSON_BLOCK_KEYS) {
    if (key in object) texts.push(JSON.stringify(object[key]));
  }
}

/** The type of a wrong value, never its content. */
export function typeName(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Decodes JSON from a string or bytes; undefined when it is not a JSON object. */
export function parseJsonObject(body: unknown): JsonObject | undefined {
  try {
    if (typeof body === 'string') return asObject(JSON.parse(body));
    if (body instanceof Uint8Array) return asObject(JSON.parse(decoder.decode(body)));
  } catch {
    return undefined;
  }
  return undefined;
}

/** Encodes `value` in the same form (string or bytes) as `original`. */
export function encodeLike(original: unknown, value: JsonObject): string | Uint8Array {
  const text = JSON.stringify(value);
  return typeof original === 'string' ? text : encoder.encode(text);
}
