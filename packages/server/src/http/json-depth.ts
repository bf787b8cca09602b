import { shownKey } from './shown-key.ts';

/** Where a JSON text first nests deeper than allowed: the top-level field it is under, and that depth. */
export interface TooDeep {
  /** The top-level key the deep value sits under (cut to 64 chars), or `body` for a top-level array. */
  field: string;
  depth: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;

function keyName(raw: string): string {
  let name: string;
  try {
    name = JSON.parse(`"${raw}"`) as string;
  } catch {
    name = raw;
  }
  return shownKey(name);
}

/**
 * Scans a JSON text for its nesting depth without building anything (one pass, no recursion), so a body
 * nested thousands of levels deep is refused before `JSON.parse` and before any recursive code sees it.
 * The body itself is depth 1. Returns undefined when no container is deeper than `maxDepth`. On text
 * that is not JSON the count may be off, but the parse that follows refuses such text anyway.
 */
export function findTooDeep(text: string, maxDepth: number): TooDeep | undefined {
  // Fast path: with no more than `maxDepth` brackets in all, nothing can nest deeper (native search).
  let brackets = 0;
  for (const bracket of ['{', '[']) {
    for (
      let at = text.indexOf(bracket);
      at !== -1 && brackets <= maxDepth;
      at = text.indexOf(bracket, at + 1)
    ) {
      brackets++;
    }
  }
  if (brackets <= maxDepth) return undefined;
  let depth = 0;
  let inString = false;
  let stringStart = 0;
  // The last top-level key: a depth-1 string right after `{` or `,` of a top-level object.
  let topKey: string | undefined;
  let rootIsObject = false;
  let expectKey = false;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (inString) {
      // Jump to the next quote natively; it closes the string unless an odd run of backslashes escapes it.
      index = text.indexOf('"', index);
      if (index === -1) return undefined;
      let backslashes = 0;
      while (text.charCodeAt(index - 1 - backslashes) === BACKSLASH) backslashes++;
      if (backslashes % 2 === 1) continue;
      inString = false;
      if (expectKey) {
        topKey = text.slice(stringStart, index);
        expectKey = false;
      }
      continue;
    }
    if (code === QUOTE) {
      inString = true;
      stringStart = index + 1;
    } else if (code === OPEN_BRACE || code === OPEN_BRACKET) {
      depth++;
      if (depth === 1) {
        rootIsObject = code === OPEN_BRACE;
        expectKey = rootIsObject;
      } else expectKey = false;
      if (depth > maxDepth) {
        return { field: rootIsObject && topKey !== undefined ? keyName(topKey) : 'body', depth };
      }
    } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
      depth--;
    } else if (code === COMMA && depth === 1 && rootIsObject) {
      expectKey = true;
    }
  }
  return undefined;
}
