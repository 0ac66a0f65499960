/**
 * An object that stands for `store`: it inherits from it and has every method bound to it, so a
 * wrapper can replace some methods and everything else is the store itself — reads cost nothing
 * extra, methods added to the store later pass through, and since every method runs with `this` =
 * the store, a field a method assigns (a counter) changes the store's own, never a copy on the
 * wrapper. Used by metadata-change-hook.ts and cluster/reread-misses.ts; wrappers stack.
 */
export function delegateTo<T extends object>(store: T): T {
  const wrapped = Object.create(store) as T;
  for (let proto: object | null = store; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const value = Object.getOwnPropertyDescriptor(proto, name)?.value as unknown;
      if (name === 'constructor' || typeof value !== 'function' || Object.hasOwn(wrapped, name)) continue;
      Object.defineProperty(wrapped, name, { value: (value as (...args: unknown[]) => unknown).bind(store), configurable: true });
    }
  }
  return wrapped;
}
