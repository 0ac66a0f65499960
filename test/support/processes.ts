/**
 * Child processes for integration tests and benchmarks: long-running daemons (reference registry,
 * Stowage, prometheus) and bounded one-shot tools (skopeo, promtool).
 *
 * Ownership: every daemon started here is tracked by PID until `stop()` resolves. Tests must call
 * `stop()`/`close()` in `afterAll`; as a safety net, daemons still alive when this Node process
 * exits (including on a failed test file or SIGINT/SIGTERM of the worker) are SIGKILLed by PID,
 * and temp directories from `tempDir()` are removed.
 * This module does not import vitest, so benchmarks can use it from plain Node.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, createWriteStream, readFileSync, rmSync, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const live = new Map<number, ChildProcess>();
const liveTempDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = (): void => {
    for (const pid of live.keys()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    live.clear();
    for (const path of liveTempDirs) rmSync(path, { recursive: true, force: true });
    liveTempDirs.clear();
  };
  process.once('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    // Only when nobody else handles the signal: kill our children, then die of it as we would have.
    process.once(signal, () => {
      killAll();
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

/** True when `name` is an executable file on PATH (or an absolute path to one). */
export function hasTool(name: string): boolean {
  const candidates = name.includes('/') ? [name] : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, name));
  return candidates.some((file) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * For `describe.skipIf(!requireTool('skopeo'))(…)`: true when the tool is available. When it is
 * missing, throws under CI (a missing tool must fail the build, not silently skip) and returns
 * false elsewhere so developers without the tool see the tests as skipped.
 */
export function requireTool(name: string): boolean {
  if (hasTool(name)) return true;
  if (process.env.CI) throw new Error(`required tool "${name}" is not installed (CI is set, so this is an error, not a skip)`);
  return false;
}

/** A free TCP port on 127.0.0.1 (bound then released; the caller should bind it promptly). */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Polls `check` until it returns true, or throws after `timeoutMs` with `description`. */
export async function waitFor(
  check: () => Promise<boolean> | boolean,
  options: { timeoutMs: number; intervalMs?: number; description: string; abortIf?: () => string | undefined },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    const reason = options.abortIf?.();
    if (reason) throw new Error(`${options.description}: ${reason}`);
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.description}${detail}`);
    }
    await sleep(options.intervalMs ?? 100);
  }
}

/** True when an HTTP GET of `url` answers (any status) within 1 s; for readiness checks. */
export async function answersHttp(url: string, accept: (status: number) => boolean = () => true): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
  await response.body?.cancel();
  return accept(response.status);
}

export interface DaemonOptions {
  /** Short name for messages and the log file name. */
  name: string;
  command: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Resolves true once the daemon serves; polled every 100 ms. */
  ready: () => Promise<boolean> | boolean;
  readyTimeoutMs?: number;
  /** Where stdout and stderr go; a new temp directory by default. */
  logFile?: string;
}

export interface Daemon {
  name: string;
  pid: number;
  logFile: string;
  /** The last `lines` lines of the daemon's combined output. */
  logTail(lines?: number): string;
  /** Whether the process has exited (expectedly or not). */
  readonly exited: boolean;
  /** SIGTERM, then SIGKILL after `graceMs` (default 5 s); removes the log unless `logFile` was given. Idempotent. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL now, as a crash would end it; resolves once it is gone. `stop` afterwards only cleans up. */
  crash(): Promise<void>;
}

/**
 * Spawns a daemon with its output captured in a log file and waits until `ready()` is true. If the
 * process exits or readiness times out, the daemon is killed and the error carries the log tail.
 */
export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  installExitHook();
  // A log directory we create is ours to remove on stop(); a caller-supplied log file is kept.
  const ownLogDir = options.logFile ? undefined : await tempDir(`${options.name}-log`);
  const logFile = options.logFile ?? join(ownLogDir!.path, `${options.name}.log`);
  const log: WriteStream = createWriteStream(logFile);
  await new Promise<void>((resolve, reject) => log.once('open', () => resolve()).once('error', reject));
  const child = spawn(options.command, options.args ?? [], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const spawned = await new Promise<Error | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', (error) => resolve(error));
  });
  if (spawned || child.pid === undefined) {
    log.end();
    throw new Error(`${options.name}: could not start ${options.command}: ${spawned?.message ?? 'no pid'}`);
  }
  const pid = child.pid;
  live.set(pid, child);
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });

  let exitInfo: string | undefined;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = signal ? `exited on ${signal}` : `exited with code ${code}`;
      live.delete(pid);
      resolve();
    });
  });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));

  const logTail = (lines = 40): string => {
    try {
      return readFileSync(logFile, 'utf8').split('\n').slice(-lines - 1).join('\n');
    } catch {
      return '';
    }
  };

  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 5000): Promise<void> => {
    stopping ??= (async () => {
      if (exitInfo === undefined) {
        process.kill(pid, 'SIGTERM');
        const timedOut = await Promise.race([exitedPromise.then(() => false), sleep(graceMs).then(() => true)]);
        if (timedOut && exitInfo === undefined) {
          process.kill(pid, 'SIGKILL');
          await exitedPromise;
        }
      }
      await closed;
      await new Promise<void>((resolve) => log.end(resolve));
      await ownLogDir?.remove();
    })();
    return stopping;
  };

  try {
    await waitFor(options.ready, {
      timeoutMs: options.readyTimeoutMs ?? 15_000,
      description: `${options.name} (pid ${pid}) to become ready`,
      abortIf: () => exitInfo,
    });
  } catch (error) {
    const tail = logTail();
    await stop(1000);
    throw new Error(`${(error as Error).message}\n--- ${options.name} log ---\n${tail}`);
  }

  return {
    name: options.name,
    pid,
    logFile,
    logTail,
    get exited() {
      return exitInfo !== undefined;
    },
    stop,
    async crash() {
      if (exitInfo === undefined) process.kill(pid, 'SIGKILL');
      await exitedPromise;
    },
  };
}

export interface RunResult {
  code: number;
  /** stdout exactly as written (e.g. raw manifest bytes). */
  stdoutBytes: Buffer;
  stdout: string;
  stderr: string;
}

/**
 * Runs a one-shot command with a hard timeout (SIGKILL) and collects its output. Rejects on timeout
 * or when it cannot be started; a non-zero exit is returned, not thrown (see `runChecked`).
 */
export async function run(
  command: string,
  args: readonly string[],
  options: { timeoutMs: number; env?: NodeJS.ProcessEnv; cwd?: string; input?: string | Buffer },
): Promise<RunResult> {
  installExitHook();
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
  if (child.pid !== undefined) live.set(child.pid, child);
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => stdout.push(c));
  child.stderr.on('data', (c: Buffer) => stderr.push(c));
  child.stdin.on('error', () => {}); // the command may exit without reading its input
  child.stdin.end(options.input ?? '');
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs);
  try {
    const code = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
    });
    const stdoutBytes = Buffer.concat(stdout);
    const result = { code, stdoutBytes, stdout: stdoutBytes.toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') };
    if (timedOut) {
      throw new Error(`${command} ${args.join(' ')} timed out after ${options.timeoutMs} ms\n${result.stderr.slice(-4000)}`);
    }
    return result;
  } finally {
    clearTimeout(timer);
    if (child.pid !== undefined) live.delete(child.pid);
  }
}

/** `run`, but throws (with the command, exit code and stderr) on a non-zero exit. */
export async function runChecked(...params: Parameters<typeof run>): Promise<RunResult> {
  const [command, args] = params;
  const result = await run(...params);
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited with ${result.code}\n${result.stderr.slice(-4000)}${result.stdout.slice(-2000)}`);
  }
  return result;
}

/** A fresh temporary directory and a function that removes it (also removed at process exit). */
export async function tempDir(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  installExitHook();
  const path = await mkdtemp(join(tmpdir(), `stowage-${prefix}-`));
  liveTempDirs.add(path);
  return {
    path,
    remove: async () => {
      await rm(path, { recursive: true, force: true });
      liveTempDirs.delete(path);
    },
  };
}
