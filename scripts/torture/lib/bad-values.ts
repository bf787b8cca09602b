// The malformed values thrown at every field: wrong types, non-finite and unsafe numbers, lone
// surrogates, 1 MB strings, cyclic and 5,000-deep objects.

const MEGABYTE = 'x'.repeat(1 << 20);

function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: true };
  for (let level = 0; level < depth; level += 1) value = { d: value };
  return value;
}

function cyclic(): Record<string, unknown> {
  const value: Record<string, unknown> = { a: 1 };
  value.self = value;
  return value;
}

export type BadValues = Record<string, () => unknown>;

/** Amounts, counts and durations. */
export const BAD_NUMBERS: BadValues = {
  NaN: () => Number.NaN,
  Infinity: () => Number.POSITIVE_INFINITY,
  '-Infinity': () => Number.NEGATIVE_INFINITY,
  '2^63': () => 2 ** 63,
  '2^53 + 2': () => 2 ** 53 + 2,
  '-1': () => -1,
  '1.5': () => 1.5,
  "'5' (a string)": () => '5',
  null: () => null,
};

/** Keys, names and ids. */
export const BAD_TEXTS: BadValues = {
  'lone high surrogate': () => 'key-\ud800x',
  'lone low surrogate': () => '\udfffkey',
  '1 MB string': () => MEGABYTE,
  '123 (a number)': () => 123,
  'an object': () => ({ text: 'x' }),
};

/** `metadata` and `metrics.custom`. */
export const BAD_OBJECTS: BadValues = {
  cyclic,
  'nested 5,000 deep': () => nested(5000),
  'a 1 MB string inside': () => ({ note: MEGABYTE }),
  'a lone surrogate key': () => ({ '\ud800': 1 }),
  'a lone surrogate value': () => ({ note: 'a\udbffb' }),
  'an array': () => [1, 2],
  'a string': () => 'metadata',
};

/** A copy of `base` with `path` (dot-separated) set to `value`; the value itself is not copied. */
export function withField<T extends object>(base: T, path: string, value: unknown): T {
  const copy = structuredClone(base) as Record<string, unknown>;
  const parts = path.split('.');
  let node = copy;
  for (const part of parts.slice(0, -1)) {
    node[part] = { ...((node[part] as Record<string, unknown> | undefined) ?? {}) };
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1] as string] = value;
  return copy as T;
}
