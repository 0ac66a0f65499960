import { useEffect, useState } from 'preact/hooks';

/**
 * Routes under /ui/, parsed from the right like the API: a repository name has raw `/`, and
 * `/manifests/<ref>` is a reserved suffix.
 *   /ui/                                  repositories (query: q, sort, order, kind, upstream)
 *   /ui/repositories/<name>               a repository's tags
 *   /ui/repositories/<name>/manifests/<r> a manifest
 *   /ui/stats, /ui/sign-in
 */
export type Route =
  | { view: 'repositories'; query: URLSearchParams }
  | { view: 'repository'; name: string; query: URLSearchParams }
  | { view: 'manifest'; name: string; reference: string }
  | { view: 'stats' }
  | { view: 'sign-in'; next: string }
  | { view: 'not-found' };

export const BASE = '/ui';

export function parseRoute(location: Pick<Location, 'pathname' | 'search'>): Route {
  const path = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : location.pathname;
  const query = new URLSearchParams(location.search);
  if (path === '' || path === '/') return { view: 'repositories', query };
  if (path === '/stats') return { view: 'stats' };
  if (path === '/sign-in') return { view: 'sign-in', next: query.get('next') ?? `${BASE}/` };
  const repo = /^\/repositories\/(.+?)\/?$/.exec(path);
  if (repo) {
    const rest = repo[1]!;
    const manifest = /^(.+)\/manifests\/([^/]+)$/.exec(rest);
    if (manifest) return { view: 'manifest', name: manifest[1]!, reference: decodeURIComponent(manifest[2]!) };
    return { view: 'repository', name: rest, query };
  }
  return { view: 'not-found' };
}

export const repositoryHref = (name: string): string => `${BASE}/repositories/${name}`;
export const manifestHref = (name: string, reference: string): string => `${BASE}/repositories/${name}/manifests/${encodeURIComponent(reference)}`;

const listeners = new Set<() => void>();

/** Client-side navigation: history entry, then re-render. `replace` for filters typed into a box. */
export function navigate(href: string, options: { replace?: boolean } = {}): void {
  if (options.replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  for (const listener of listeners) listener();
  if (!options.replace) window.scrollTo(0, 0);
}

export function useLocation(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location));
  useEffect(() => {
    const update = (): void => setRoute(parseRoute(window.location));
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return route;
}

/** Links navigate in place unless the user asked for a new tab or window. */
export function onLinkClick(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const anchor = (event.target as Element | null)?.closest?.('a');
  const href = anchor?.getAttribute('href');
  if (!anchor || !href || !href.startsWith(`${BASE}/`) || anchor.target) return;
  event.preventDefault();
  navigate(href);
}
