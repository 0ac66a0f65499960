import type { ComponentChildren } from 'preact';
import type { ApiError } from '../api';
import { BASE } from '../router';

/** What went wrong, in words, and what to do about it. */
export function ErrorState({ error, retry }: { error: ApiError; retry?: () => void }) {
  const signIn = error.status === 401;
  const title =
    error.code === 'NETWORK' ? 'Stowage is unreachable'
    : signIn ? 'Sign in to see this'
    : error.status === 403 ? 'Not allowed'
    : error.status === 404 ? 'Not found'
    : error.code === 'UPSTREAM_UNAVAILABLE' ? 'Upstream unreachable'
    : 'Something went wrong';
  return (
    <div class="state state-error" role="alert">
      <h2>{title}</h2>
      <p>{error.message}</p>
      <div class="state-actions">
        {signIn && <a class="button primary" href={`${BASE}/sign-in?next=${encodeURIComponent(location.pathname + location.search)}`}>Sign in</a>}
        {retry && !signIn && <button type="button" class="button" onClick={retry}>Try again</button>}
      </div>
    </div>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="state state-empty">
      <h2>{title}</h2>
      {children}
    </div>
  );
}

export function Loading() {
  return <div class="state state-loading" aria-busy="true">Loading…</div>;
}
