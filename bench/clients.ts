/**
 * The benchmark's clients. Single-stream transfers use curl writing to /dev/null (the lightest
 * client there is, so the figure is the server's); in the 20-client figure every client hashes what
 * it received (curl piped into openssl); manifest load uses wrk.
 */
import { Pool } from 'undici';
import { run, runChecked } from '../test/support/processes.js';

export interface Transfer {
  status: number;
  bytes: number;
  /** Time to the first body byte, from the start of the request (ms). */
  ttfbMs: number;
  totalMs: number;
}

/** `curl` GET discarding the body; `-L` follows redirects. Throws when curl itself fails. */
export async function curlGet(url: string, options: { headers?: Record<string, string>; follow?: boolean } = {}): Promise<Transfer> {
  const args = ['-sS', '-o', '/dev/null', '-w', '%{json}'];
  if (options.follow) args.push('-L');
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push('-H', `${name}: ${value}`);
  args.push(url);
  const result = await runChecked('curl', args, { timeoutMs: 120_000 });
  const out = JSON.parse(result.stdout) as { http_code: number; size_download: number; time_starttransfer: number; time_total: number };
  return { status: out.http_code, bytes: out.size_download, ttfbMs: out.time_starttransfer * 1000, totalMs: out.time_total * 1000 };
}

/**
 * What a client talking to the hub itself does: fetch an anonymous token from the realm (unless it
 * holds one, as the proxies do once warm), GET the blob (307 to the CDN), follow it. Times include
 * the token request when there is one.
 */
export async function directBlobGet(hubUrl: string, repository: string, digest: string, cachedToken?: string): Promise<Transfer> {
  const started = performance.now();
  const token = cachedToken === undefined
    ? await getJson<{ token: string }>(`${hubUrl}/token?service=fake-hub&scope=repository:${repository}:pull`)
    : { token: cachedToken };
  const tokenMs = performance.now() - started;
  // curl (≥ 7.83) does not forward a custom Authorization header to another host:port on redirect;
  // the fake CDN would answer 400 if it did.
  const transfer = await curlGet(`${hubUrl}/v2/${repository}/blobs/${digest}`, { follow: true, headers: { authorization: `Bearer ${token.token}` } });
  return { ...transfer, ttfbMs: transfer.ttfbMs + tokenMs, totalMs: transfer.totalMs + tokenMs };
}

export interface HashedTransfer {
  /** curl's exit status and the HTTP status (0 when there was none). */
  exitCode: number;
  status: number;
  digest: string;
  totalMs: number;
  error?: string;
}

/**
 * `clients` concurrent GETs of `url`, each its own `curl | openssl dgst -sha256` pipeline: separate
 * processes, so hashing 20 × 300 MB spreads over every core instead of one event loop (a Node
 * client here took ~1.5× as long and made the figure the client's).
 */
export async function concurrentHashedGets(url: string, clients: number): Promise<{ wallMs: number; results: HashedTransfer[] }> {
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: clients }, () => hashedGet(url)));
  return { wallMs: performance.now() - started, results };
}

async function hashedGet(url: string): Promise<HashedTransfer> {
  const started = performance.now();
  // The HTTP status goes to stderr (-w with %{stderr}), the body through openssl; pipefail makes a
  // curl failure (cut connection, error status with --fail) the pipeline's exit status.
  const script = 'set -o pipefail; curl -sS --fail -w "%{stderr}status=%{http_code}\\n" "$0" | openssl dgst -sha256 -r';
  const result = await run('bash', ['-c', script, url], { timeoutMs: 300_000 });
  const status = Number(/status=(\d+)/.exec(result.stderr)?.[1] ?? 0);
  const hex = /^([a-f0-9]{64})/.exec(result.stdout)?.[1];
  return {
    exitCode: result.code,
    status,
    digest: hex ? `sha256:${hex}` : '',
    totalMs: performance.now() - started,
    ...(result.code !== 0 ? { error: result.stderr.trim().slice(0, 300) } : {}),
  };
}

export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Non-2xx/3xx responses plus socket errors reported by wrk. */
  errors: number;
}

/** wrk with `connections` keep-alive connections over 2 threads for `seconds`, with --latency. */
export async function wrk(url: string, options: { connections: number; seconds: number; headers?: Record<string, string> }): Promise<LoadResult> {
  const args = ['-t2', `-c${options.connections}`, `-d${options.seconds}s`, '--latency', '--timeout', '5s'];
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push('-H', `${name}: ${value}`);
  args.push(url);
  const result = await run('wrk', args, { timeoutMs: (options.seconds + 30) * 1000 });
  if (result.code !== 0) throw new Error(`wrk exited with ${result.code}: ${result.stderr}${result.stdout}`);
  const out = result.stdout;
  const latency = (percent: string): number => {
    const match = new RegExp(`^\\s+${percent}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out);
    if (!match) throw new Error(`wrk: no ${percent}% latency in:\n${out}`);
    const value = Number(match[1]);
    return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
  };
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const total = /(\d+) requests in/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0);
  if (!rps || !total) throw new Error(`wrk: unexpected output:\n${out}`);
  return { requestsPerSecond: Number(rps[1]), p50Ms: latency('50'), p99Ms: latency('99'), requests: Number(total[1]), errors };
}

export async function getJson<T>(url: string, headers: Record<string, string> = {}): Promise<T> {
  const response = await fetch(url, { headers });
  if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
  return (await response.json()) as T;
}

/** A GET whose body is read and returned (small responses: manifests). */
export async function getStatus(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  const response = await fetch(url, { headers });
  return { status: response.status, body: Buffer.from(await response.arrayBuffer()) };
}

/**
 * GETs `url` from `connections` concurrent connections, back to back, until `until` settles;
 * every request's latency counts. A client in this process rather than wrk: the figure needs the
 * latencies of exactly the window a background job (a GC run) takes, which wrk's fixed duration
 * cannot follow. Baselines are measured with this same client, so only the server differs.
 */
export async function loadUntil(url: string, options: { connections: number; headers?: Record<string, string>; until: Promise<unknown> }): Promise<LoadResult> {
  const target = new URL(url);
  const pool = new Pool(target.origin, { connections: options.connections });
  let stop = false;
  void options.until.finally(() => (stop = true)).catch(() => {});
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (!stop) {
      const begin = performance.now();
      try {
        const res = await pool.request({ path: `${target.pathname}${target.search}`, method: 'GET', headers: options.headers ?? {} });
        await res.body.dump();
        if (res.statusCode !== 200) errors++;
      } catch {
        errors++;
      }
      latencies.push(performance.now() - begin);
    }
  };
  await Promise.all(Array.from({ length: options.connections }, worker));
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => Number((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0).toFixed(2));
  return { requestsPerSecond: latencies.length / seconds, p50Ms: at(0.5), p99Ms: at(0.99), requests: latencies.length, errors };
}
