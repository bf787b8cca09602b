import type { Action, Subject } from '@cycles-guard/core';
import { mergeSubjects } from '@cycles-guard/core/llm';
import { Reflector } from '@nestjs/core';

/** Options of the `@CyclesBudget()` decorator; on a handler they merge over the controller's. */
export interface CyclesDecoratorOptions {
  /** Subject parts merged over the request's subject, e.g. `{ app: 'chat' }`. */
  subject?: Subject;
  /**
   * Default action of guarded calls in the handler.
   * @default `{ kind: 'custom', name: '<Controller>.<handler>' }` when only a part or `estimate` is given
   */
  action?: Partial<Action>;
  /**
   * Worst-case cost of non-LLM work, in the instance's unit: reserved before the handler, committed
   * when it completes (or the client leaves), released when it throws.
   * @default no hold
   */
  estimate?: number;
  /**
   * Opens no budget context and reserves nothing for this controller or handler.
   * @default false
   */
  skip?: boolean;
}

/** Sets the budget subject parts, action, `estimate` or `skip` of a controller or handler. */
export const CyclesBudget = Reflector.createDecorator<CyclesDecoratorOptions>();

/**
 * @deprecated Renamed {@link CyclesBudget}: `Cycles` is also the name of core's instance type, so
 * importing both failed with TS2300 (duplicate identifier).
 */
export const Cycles = CyclesBudget;

/** Merges class-level then method-level options (later wins; subjects merge level by level). */
export function mergeDecoratorOptions(
  list: readonly (CyclesDecoratorOptions | undefined)[],
): CyclesDecoratorOptions {
  const merged: CyclesDecoratorOptions = {};
  for (const options of list) {
    if (options === undefined) continue;
    if (options.subject !== undefined) merged.subject = mergeSubjects(merged.subject, options.subject);
    if (options.action !== undefined) merged.action = { ...merged.action, ...options.action };
    if (options.estimate !== undefined) merged.estimate = options.estimate;
    if (options.skip !== undefined) merged.skip = options.skip;
  }
  return merged;
}
