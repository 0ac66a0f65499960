import { setTimeout as sleep } from 'node:timers/promises';
import { ProgressView, type ImageLine, type Terminal } from './progress-view.js';

export interface CommandIo {
  stdout: Terminal;
  stderr: { write(text: string): unknown };
  env: NodeJS.ProcessEnv;
  /** How often the run is polled (default 250 ms). */
  pollMs?: number;
}

const USAGE = `usage: stowage prefetch [--url URL] [--user USER[:PASSWORD]] [REF…]

Asks the running Stowage at URL (default $STOWAGE_URL, else http://localhost:5000) to prefetch
images into its cache, and shows the progress of each until the run ends. REF is a configured
prefetch.images entry (by its ref) or any image of a configured upstream, such as
docker.io/library/alpine:3.20; without REF, every configured image. Admin credentials: --user,
or STOWAGE_USER and STOWAGE_PASSWORD. Exit status: 0 when every image was fetched, 1 otherwise.
`;

interface RunJson {
  id: string;
  finishedAt: string | null;
  images: ImageLine[];
}

/**
 * `stowage prefetch`: a client of the running server's API — never a second process on the data
 * directory, which the server alone writes. Starts a run (POST /api/v1/prefetch), follows it
 * (GET /api/v1/prefetch?run=<id>) and exits non-zero when an image could not be fetched.
 */
export async function prefetchCommand(args: string[], io: CommandIo): Promise<number> {
  const options = parseArgs(args, io.env);
  if ('error' in options) {
    io.stderr.write(options.error ? `stowage prefetch: ${options.error}\n${USAGE}` : USAGE);
    return options.error ? 2 : 0;
  }
  const headers: Record<string, string> = { Accept: 'application/json', 'X-Stowage-CSRF': '1' };
  if (options.user !== null) headers.Authorization = `Basic ${Buffer.from(options.user).toString('base64')}`;
  const call = async (path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> => {
    const res = await fetch(`${options.url}/api/v1/${path}`, { ...init, headers: { ...headers, ...(init.headers as Record<string, string> | undefined) } });
    const text = await res.text();
    let body: any = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    return { status: res.status, body };
  };

  let started;
  try {
    started = await call('prefetch', {
      method: 'POST',
      ...(options.refs.length > 0 ? { body: JSON.stringify({ refs: options.refs }), headers: { 'Content-Type': 'application/json' } } : {}),
    });
  } catch (e) {
    io.stderr.write(`stowage prefetch: cannot reach Stowage at ${options.url}: ${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message}\n`);
    return 1;
  }
  if (started.status !== 202) {
    io.stderr.write(`stowage prefetch: ${options.url} answered ${started.status}: ${started.body?.errors?.[0]?.message ?? 'unexpected answer'}\n`);
    return 1;
  }
  const view = new ProgressView(io.stdout);
  let run: RunJson = started.body.run;
  if (started.body.joined) io.stderr.write('stowage prefetch: the same run was already going; following it\n');
  for (;;) {
    view.update(run.images);
    if (run.finishedAt !== null) break;
    await sleep(io.pollMs ?? 250);
    try {
      const next = await call(`prefetch?run=${encodeURIComponent(run.id)}`);
      if (next.status !== 200) {
        io.stderr.write(`stowage prefetch: lost the run: ${next.status} ${next.body?.errors?.[0]?.message ?? ''}\n`);
        return 1;
      }
      run = next.body.run;
    } catch (e) {
      io.stderr.write(`stowage prefetch: lost contact with ${options.url}: ${(e as Error).message}\n`);
      return 1;
    }
  }
  const fetched = run.images.filter((i) => i.state === 'done').length;
  const missed = run.images.length - fetched;
  io.stdout.write(`${run.images.length} image${run.images.length === 1 ? '' : 's'}: ${fetched} fetched${missed > 0 ? `, ${missed} not` : ''}\n`);
  return missed > 0 ? 1 : 0;
}

function parseArgs(args: string[], env: NodeJS.ProcessEnv): { url: string; user: string | null; refs: string[] } | { error: string | null } {
  let url = env.STOWAGE_URL ?? 'http://localhost:5000';
  let user = env.STOWAGE_USER === undefined ? null : `${env.STOWAGE_USER}:${env.STOWAGE_PASSWORD ?? ''}`;
  const refs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--help' || arg === '-h') return { error: null };
    if (arg === '--url' || arg === '--user') {
      const value = args[++i];
      if (value === undefined) return { error: `${arg} needs a value` };
      if (arg === '--url') url = value;
      else user = value.includes(':') ? value : `${value}:${env.STOWAGE_PASSWORD ?? ''}`;
    } else if (arg.startsWith('-')) {
      return { error: `unknown option ${arg}` };
    } else {
      refs.push(arg);
    }
  }
  if (!/^https?:\/\/[^\s/]+/.test(url)) return { error: `--url: expected http(s)://host[:port], got ${JSON.stringify(url)}` };
  return { url: url.replace(/\/+$/, ''), user, refs };
}
