/**
 * Token scopes as the Docker token protocol writes them: `repository:<name>:<action>[,<action>…]`,
 * `registry:catalog:*`. The name may itself contain `:` (a host with a port), so the type ends at
 * the first `:` and the actions start after the last. Several scopes may share one parameter,
 * separated by spaces (containerd's POST form).
 */
export interface Scope {
  type: string;
  name: string;
  actions: string[];
}

export function parseScopes(values: readonly string[]): Scope[] {
  const scopes: Scope[] = [];
  for (const value of values) {
    for (const text of value.split(' ')) {
      const first = text.indexOf(':');
      const last = text.lastIndexOf(':');
      if (first <= 0 || last === first) continue; // malformed scopes are ignored, as distribution does
      // `repository(plugin)` is an old class suffix some clients still send; the class changes nothing here.
      const type = text.slice(0, first).replace(/\(.*\)$/, '');
      const actions = text.slice(last + 1).split(',').filter(Boolean);
      scopes.push({ type, name: text.slice(first + 1, last), actions });
    }
  }
  return scopes;
}

export const formatScope = (scope: Scope): string => `${scope.type}:${scope.name}:${scope.actions.join(',')}`;
