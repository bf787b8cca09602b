// One way to put a wrapper around a ledger or authority (telemetry timing, spend recording, the
// server's metrics): methods bound to the target once, some replaced.

/** A method as the wrapper sees it: already bound to its target. */
export type BoundMethod = (...args: unknown[]) => unknown;

/**
 * `target` as seen through `wrap`: for each method name, `wrap(name, method)` returns its replacement,
 * or undefined to keep the method. Methods are bound to `target` once (class ledgers keep private
 * fields, and a call through the proxy then costs no bind); other properties read through.
 */
export function wrapMethods<T extends object>(
  target: T,
  wrap: (name: string, method: BoundMethod) => BoundMethod | undefined,
): T {
  const cache = new Map<PropertyKey, unknown>();
  // The proxy's own target is an empty shadow: a ledger's frozen own methods (e.g. one built with
  // Object.create) would otherwise forbid answering a wrapped or bound one (a Proxy invariant).
  return new Proxy(Object.create(null) as T, {
    has: (_shadow, property) => property in target,
    get(_shadow, property) {
      const cached = cache.get(property);
      if (cached !== undefined) return cached;
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      const method = (value as BoundMethod).bind(target);
      const wrapped = wrap(String(property), method) ?? method;
      cache.set(property, wrapped);
      return wrapped;
    },
  });
}
