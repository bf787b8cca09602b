import type { OtelAttributes } from './otel-api.ts';

/** One series: its attribute set (built once) and its running totals. */
export interface SumCell {
  readonly attributes: OtelAttributes;
  readonly totals: number[];
}

/** The attribute the SDK itself gives the series past its cardinality limit. */
const OVERFLOW: OtelAttributes = { 'otel.metric.overflow': true };

/**
 * Running totals per attribute set, read by an observable counter at collection time. A guarded call
 * adds to a cell found through nested maps of the attribute values: no attribute object is built and
 * nothing is hashed per call (the SDK hashes every synchronous record's attributes). At most
 * `maxSeries` cells; later attribute sets share one overflow cell, as the SDK's own limit does.
 */
export class CumulativeSums {
  readonly #keys: readonly string[];
  readonly #width: number;
  readonly #maxSeries: number;
  readonly #root = new Map<string, unknown>();
  readonly #cells: SumCell[] = [];
  #overflow: SumCell | undefined;

  /** `keys`: the attribute names, in the order `cell` takes their values; `width`: totals per cell. */
  constructor(keys: readonly string[], width: number, maxSeries = 2000) {
    this.#keys = keys;
    this.#width = width;
    this.#maxSeries = maxSeries;
  }

  /** The cell of these attribute values (as many as `keys`). */
  cell(first: string, second?: string, third?: string): SumCell {
    let level = this.#root;
    const last = this.#keys.length - 1;
    for (let index = 0; index < last; index++) {
      const value = (index === 0 ? first : second) as string;
      let next = level.get(value) as Map<string, unknown> | undefined;
      if (next === undefined) {
        if (this.#cells.length >= this.#maxSeries) return this.#overflowCell();
        next = new Map();
        level.set(value, next);
      }
      level = next;
    }
    const value = (last === 0 ? first : last === 1 ? second : third) as string;
    const found = level.get(value) as SumCell | undefined;
    if (found !== undefined) return found;
    if (this.#cells.length >= this.#maxSeries) return this.#overflowCell();
    const attributes: OtelAttributes = {};
    const values = [first, second, third];
    for (let index = 0; index <= last; index++) attributes[this.#keys[index] as string] = values[index];
    const created: SumCell = { attributes, totals: new Array<number>(this.#width).fill(0) };
    level.set(value, created);
    this.#cells.push(created);
    return created;
  }

  /** Every series' `column` total, for an observable counter's callback. */
  observe(column: number, observe: (value: number, attributes: OtelAttributes) => void): void {
    for (const cell of this.#cells) observe(cell.totals[column] as number, cell.attributes);
    if (this.#overflow !== undefined) observe(this.#overflow.totals[column] as number, OVERFLOW);
  }

  #overflowCell(): SumCell {
    this.#overflow ??= { attributes: OVERFLOW, totals: new Array<number>(this.#width).fill(0) };
    return this.#overflow;
  }
}
