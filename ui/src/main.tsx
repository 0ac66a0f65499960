import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api } from './api';
import { BASE, navigate, onLinkClick, useLocation } from './router';
import { applyTheme, nextTheme, storedTheme, type Theme } from './theme';
import type { Info, Session } from './types';
import { ManifestView } from './views/manifest';
import { RepositoriesView } from './views/repositories';
import { RepositoryView } from './views/repository';
import { SignInView } from './views/sign-in';
import { StatsView } from './views/stats';
import { EmptyState } from './components/states';
import './styles.css';

applyTheme(storedTheme());

function App() {
  const route = useLocation();
  const [info, setInfo] = useState<Info | null>(null);
  const [session, setSession] = useState<Session | null>(null);
  const [theme, setTheme] = useState<Theme>(storedTheme());

  useEffect(() => {
    api<Info>('info').then(setInfo, () => setInfo(null));
    api<Session>('session').then(setSession, () => setSession(null));
  }, []);
  // `/` focuses the search box of the page (unless the user is typing somewhere).
  useEffect(() => {
    const onKey = (event: KeyboardEvent): void => {
      const target = event.target as HTMLElement | null;
      if (event.key !== '/' || event.ctrlKey || event.metaKey || event.altKey) return;
      if (target && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName))) return;
      const search = document.getElementById('search') as HTMLInputElement | null;
      if (!search) return;
      event.preventDefault();
      search.focus();
      search.select();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);
  useEffect(() => {
    const titles: Record<string, string> = { repositories: 'Repositories', stats: 'Statistics', 'sign-in': 'Sign in', 'not-found': 'Not found' };
    const name = 'name' in route ? route.name : titles[route.view];
    document.title = `${name} · Stowage`;
  }, [route]);

  const signOut = async (): Promise<void> => {
    await api('session', { method: 'DELETE' }).catch(() => {});
    setSession(await api<Session>('session').catch(() => null));
    navigate(`${BASE}/`);
  };
  const toggleTheme = (): void => {
    const next = nextTheme(theme);
    applyTheme(next);
    setTheme(next);
  };
  const authOn = session !== null && session.mode !== 'open';

  return (
    <div class="app" onClick={onLinkClick}>
      <a class="skip" href="#main">Skip to content</a>
      <header class="topbar">
        <a class="brand" href={`${BASE}/`} aria-label="Stowage: repositories">
          <span class="logo" aria-hidden="true" />
          Stowage
        </a>
        <nav class="nav" aria-label="Main">
          <a href={`${BASE}/`} aria-current={route.view === 'repositories' || route.view === 'repository' || route.view === 'manifest' ? 'page' : undefined}>Repositories</a>
          <a href={`${BASE}/stats`} aria-current={route.view === 'stats' ? 'page' : undefined}>Stats</a>
        </nav>
        <div class="topbar-end">
          {authOn && (session.user ? (
            <span class="user">
              <span class="user-name">{session.user}</span>
              <button type="button" class="button small" onClick={signOut}>Sign out</button>
            </span>
          ) : (
            route.view !== 'sign-in' && <a class="button small" href={`${BASE}/sign-in?next=${encodeURIComponent(location.pathname + location.search)}`}>Sign in</a>
          ))}
          <button type="button" class="button small theme" onClick={toggleTheme} aria-label={`Theme: ${theme}. Switch to ${nextTheme(theme)}`} title="Theme: follows the system, light or dark">
            {theme === 'system' ? 'Auto' : theme === 'light' ? 'Light' : 'Dark'}
          </button>
        </div>
      </header>
      {/* Keyed by who is signed in: every view loads again when that changes. */}
      <main id="main" tabIndex={-1} key={session?.user ?? 'anonymous'}>
        {route.view === 'repositories' && <RepositoriesView query={route.query} info={info} />}
        {route.view === 'repository' && <RepositoryView key={route.name} name={route.name} info={info} />}
        {route.view === 'manifest' && <ManifestView key={`${route.name}@${route.reference}`} name={route.name} reference={route.reference} info={info} />}
        {route.view === 'stats' && <StatsView />}
        {route.view === 'sign-in' && <SignInView next={route.next} onSignedIn={setSession} />}
        {route.view === 'not-found' && (
          <EmptyState title="No such page">
            <p>
              <a href={`${BASE}/`}>Back to the repositories</a>
            </p>
          </EmptyState>
        )}
      </main>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
