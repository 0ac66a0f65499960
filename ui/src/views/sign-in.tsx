import { useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { navigate } from '../router';
import type { Session } from '../types';

/** The sign-in form: the API answers with a session cookie (never the browser's Basic pop-up). */
export function SignInView({ next, onSignedIn }: { next: string; onSignedIn: (s: Session) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session = await api<Session>('session', { method: 'POST', body: { username, password } });
      onSignedIn(session);
      navigate(next.startsWith('/ui') ? next : '/ui/');
    } catch (e) {
      setError(e instanceof ApiError && e.status === 401 ? 'Wrong user name or password.' : (e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="sign-in">
      <h1>Sign in</h1>
      <form onSubmit={submit}>
        <label>
          User name
          <input name="username" autocomplete="username" required value={username} onInput={(e) => setUsername((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
        </label>
        {error && <p class="notice notice-error" role="alert">{error}</p>}
        <button type="submit" class="button primary" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
    </section>
  );
}
