/**
 * One observer that forwards every event to several — metrics plus an observer a test or embedder
 * passed in. `template` (a NOOP observer object literal) names the methods and is returned when no
 * observer is given; null/undefined entries are skipped. Observers are called in order and are
 * expected not to throw.
 */
export function fanOut<T extends object>(template: T, candidates: ReadonlyArray<T | null | undefined>): T {
  const observers = candidates.filter((o): o is T => o !== null && o !== undefined);
  if (observers.length === 0) return template;
  if (observers.length === 1) return observers[0]!;
  const combined: Record<string, (...args: unknown[]) => void> = {};
  for (const method of Object.keys(template)) {
    combined[method] = (...args: unknown[]): void => {
      for (const observer of observers) (observer as Record<string, (...a: unknown[]) => void>)[method]!(...args);
    };
  }
  return combined as T;
}
