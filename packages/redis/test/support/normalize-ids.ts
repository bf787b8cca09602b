// Two ledgers make their own reservation, event and ledger ids, so their answers are compared with
// each id replaced by its index in the order the test saw it made (`#n`), and an id it never saw by
// its kind alone (`rsv_`).

const ID = /(rsv|evt|led)_[A-Za-z0-9_-]+/g;

/** `text` with every id replaced by its index in `ids` (or its kind). */
export function normalizeText(text: string, ids: string[]): string {
  return text.replace(ID, (id) => (ids.includes(id) ? `#${ids.indexOf(id)}` : id.slice(0, 4)));
}

/** `value` with every string in it normalized by `normalizeText`. */
export function normalize(value: unknown, ids: string[]): unknown {
  if (typeof value === 'string') return normalizeText(value, ids);
  if (Array.isArray(value)) return value.map((item) => normalize(item, ids));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([name, member]) => [name, normalize(member, ids)]));
  }
  return value;
}
