/**
 * The processes a benchmark run starts, each owned by PID through test/support/processes.ts (killed
 * on exit even if the run fails): the upstream `docker-registry`, the fake hub in front of it, and
 * the two subjects — Stowage (`dist/main.js`) and the reference registry in proxy mode.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REFERENCE_REGISTRY_BINARY } from '../test/support/reference-registry.js';
import { answersHttp, freePort, startDaemon, tempDir } from '../test/support/processes.js';

/** The repository root (this file runs from node_modules/.cache/stowage-bench/bench/). */
export const REPO_ROOT = resolve(process.env.STOWAGE_REPO_ROOT ?? findRepoRoot(dirname(fileURLToPath(import.meta.url))));

/** The build of Stowage under test: `dist/`, or another build for A/B runs (`--stowage-dist DIR`). */
export const stowageDist = (): string => resolve(process.env.STOWAGE_BENCH_DIST ?? join(REPO_ROOT, 'dist'));

function findRepoRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json')) || dir.includes('node_modules')) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('bench: cannot find the repository root');
    dir = parent;
  }
  return dir;
}

/** A server under test (or the upstream): where it answers and which process to watch. */
export interface Server {
  name: string;
  url: string;
  host: string;
  pid: number;
  dataDir: string;
  /**
   * Deletes a cached blob from the server's storage behind its back (as an eviction would), so the
   * next GET of it is cold again while the process stays warm (JIT, connections, upstream token).
   */
  forgetBlob(digest: string): Promise<void>;
  close(): Promise<void>;
}

export interface Hub {
  url: string;
  cdnUrl: string;
  controlUrl: string;
  pid: number;
  stats(): Promise<HubStats>;
  /** Paces blob bodies to `bytesPerSecond` (a link's speed); 0 = as fast as possible. */
  setBandwidth(bytesPerSecond: number): Promise<void>;
  /**
   * Resolves once the hub has written nothing for half a second (at most 60 s): every download a
   * subject started is over. The reference stores a cold blob with a second download of its own
   * that can outlast the client's, so its work for one GET ends only then.
   */
  quiet(): Promise<void>;
  close(): Promise<void>;
}

export interface HubStats {
  /** Bytes written by the hub and CDN sockets since the hub started. */
  bytes: number;
  /** `"<kind> <METHOD>"` → count, e.g. `"manifest HEAD"`, `"cdn GET"`, `"token GET"`. */
  requests: Record<string, number>;
}

/** Starts the fake hub (bench/hub-process.js) as its own process in front of `backendUrl`. */
export async function startHub(backendUrl: string): Promise<Hub> {
  const dir = await tempDir('bench-hub');
  const readyFile = join(dir.path, 'ready.json');
  const daemon = await startDaemon({
    name: 'fake-hub',
    command: process.execPath,
    args: [join(dirname(fileURLToPath(import.meta.url)), 'hub-process.js'), '--backend', backendUrl, '--ready', readyFile],
    logFile: join(dir.path, 'hub.log'),
    ready: () => existsSync(readyFile),
  });
  const info = JSON.parse(readFileSync(readyFile, 'utf8')) as { url: string; cdnUrl: string; controlUrl: string };
  const stats = async (): Promise<HubStats> => {
    const response = await fetch(`${info.controlUrl}/stats`);
    return (await response.json()) as HubStats;
  };
  return {
    ...info,
    pid: daemon.pid,
    stats,
    quiet: async () => {
      let last = (await stats()).bytes;
      for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        const now = (await stats()).bytes;
        if (now === last) return;
        last = now;
      }
    },
    setBandwidth: async (bytesPerSecond) => {
      const response = await fetch(`${info.controlUrl}/bandwidth?bytesPerSecond=${bytesPerSecond}`, { method: 'PUT' });
      if (response.status !== 204) throw new Error(`hub bandwidth: ${response.status}`);
    },
    close: async () => {
      await daemon.stop();
      await dir.remove();
    },
  };
}

export interface StowageOptions {
  /** Upstream base URL for docker.io; omit for a hosted-only instance. */
  upstreamUrl?: string;
  /** Reuse an existing data directory (startup figure); a fresh temp one otherwise. */
  dataDir?: string;
  logLevel?: string;
  /** Called right before the process is spawned (startup timing). */
  onSpawn?: () => void;
  /** Readiness poll interval; default 100 ms (10 ms for startup timing). */
  readyPollMs?: number;
  /** An `auth` section (figure 8); the instance is open without one. */
  auth?: Record<string, unknown>;
  /** More `storage` settings (figure 10: `driver: s3` and its bucket). */
  storage?: Record<string, unknown>;
  /** A `cluster` section without `advertiseUrl` (figure 11: replicas; the instance's own URL is added). */
  cluster?: Record<string, unknown>;
  /** More top-level config sections (figure 12: `retention`). */
  config?: Record<string, unknown>;
}

/** Stowage from `dist/main.js` as a separate process with a temp config file. */
export async function startStowage(options: StowageOptions = {}): Promise<Server> {
  const dir = await tempDir('bench-stowage');
  const dataDir = options.dataDir ?? join(dir.path, 'data');
  await mkdir(dataDir, { recursive: true });
  const port = await freePort();
  const configFile = join(dir.path, 'stowage.yaml');
  // YAML is a superset of JSON.
  await writeFile(configFile, JSON.stringify({
    server: { host: '127.0.0.1', port },
    storage: { ...options.storage, path: dataDir },
    log: { level: options.logLevel ?? 'warn' },
    hosted: ['team/**'],
    upstreams: options.upstreamUrl ? { 'docker.io': { url: options.upstreamUrl, tagTtl: '1h' } } : {},
    defaultUpstream: options.upstreamUrl ? 'docker.io' : null,
    ...(options.auth ? { auth: options.auth } : {}),
    ...(options.cluster ? { cluster: { ...options.cluster, advertiseUrl: `http://127.0.0.1:${port}` } } : {}),
    ...options.config,
  }, null, 2));
  const url = `http://127.0.0.1:${port}`;
  options.onSpawn?.();
  const daemon = await startDaemon({
    name: 'stowage',
    command: process.execPath,
    // As `npm start` and the Dockerfile run it (see src/main.ts).
    // STOWAGE_BENCH_NODE_FLAGS adds Node flags for profiling (`--cpu-prof --cpu-prof-dir=DIR`).
    args: ['--max-semi-space-size=4', ...(process.env.STOWAGE_BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []), join(stowageDist(), 'main.js'), '--config', configFile],
    env: { ...process.env, NODE_ENV: 'production' },
    logFile: join(dir.path, 'stowage.log'),
    readyTimeoutMs: 30_000,
    // With auth, /v2/ answers 401 to anonymous callers: the liveness probe says it serves.
    ready: () => pollUntilAnswers(`${url}${options.auth ? '/healthz' : '/v2/'}`, options.readyPollMs ?? 100),
  });
  return {
    name: 'stowage',
    url,
    host: `127.0.0.1:${port}`,
    pid: daemon.pid,
    dataDir,
    // src/storage/layout.ts: blobs/<algorithm>/<first two hex>/<hex>
    forgetBlob: (digest) => rm(blobPath(join(dataDir, 'blobs'), digest)),
    close: async () => {
      await daemon.stop();
      if (options.dataDir === undefined) await dir.remove();
    },
  };
}

export interface ReferenceOptions {
  /** Run as a pull-through cache of this URL; a plain (pushable) registry without it. */
  remoteUrl?: string;
  /** Storage root to reuse (startup figure); a fresh temp one otherwise. */
  dataDir?: string;
  onSpawn?: () => void;
  readyPollMs?: number;
}

/**
 * The reference registry (Debian's docker-registry, distribution 2.8), configured like
 * test/support/reference-registry.ts (filesystem storage, log level warn, access log off), but
 * with a storage root the caller may pre-fill and a finer readiness poll.
 */
export async function startReference(options: ReferenceOptions = {}): Promise<Server> {
  const dir = await tempDir('bench-reference');
  const dataDir = options.dataDir ?? join(dir.path, 'data');
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const configFile = join(dir.path, 'config.yml');
  await writeFile(configFile, JSON.stringify({
    version: 0.1,
    log: { level: 'warn', formatter: 'text', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: dataDir }, delete: { enabled: true }, maintenance: { uploadpurging: { enabled: false } } },
    http: { addr: host, secret: randomBytes(16).toString('hex') },
    health: { storagedriver: { enabled: false } },
    ...(options.remoteUrl ? { proxy: { remoteurl: options.remoteUrl } } : {}),
  }, null, 2));
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('REGISTRY_')));
  options.onSpawn?.();
  const daemon = await startDaemon({
    name: 'docker-registry',
    command: REFERENCE_REGISTRY_BINARY,
    args: ['serve', configFile],
    env,
    logFile: join(dir.path, 'registry.log'),
    readyTimeoutMs: 30_000,
    ready: () => pollUntilAnswers(`http://${host}/v2/`, options.readyPollMs ?? 100),
  });
  return {
    name: 'reference',
    url: `http://${host}`,
    host,
    pid: daemon.pid,
    dataDir,
    // distribution's filesystem driver: docker/registry/v2/blobs/<algorithm>/<first two hex>/<hex>/data
    // (force: with many concurrent misses distribution may not have stored it at all)
    forgetBlob: (digest) => rm(blobPath(join(dataDir, 'docker', 'registry', 'v2', 'blobs'), digest), { recursive: true, force: true }),
    close: async () => {
      await daemon.stop();
      if (options.dataDir === undefined) await dir.remove();
    },
  };
}

function blobPath(root: string, digest: string): string {
  const [algorithm, hex] = digest.split(':') as [string, string];
  return join(root, algorithm, hex.slice(0, 2), hex);
}

/** One readiness check that itself polls every `intervalMs` for up to 30 s (finer than startDaemon's 100 ms). */
async function pollUntilAnswers(url: string, intervalMs: number): Promise<boolean> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if (await answersHttp(url, (status) => status === 200)) return true;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Peak and current resident set size of a process, in bytes (Linux /proc). */
export function memoryOf(pid: number): { peak: number; current: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { peak: field('VmHWM'), current: field('VmRSS') };
}

/** CPU time (user + system) a process has used so far, in ms (Linux /proc, 10 ms resolution). */
export function cpuOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** Resets a process's peak RSS (VmHWM) to its current RSS, so the next peak covers one phase only. */
export function resetPeakMemory(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}
