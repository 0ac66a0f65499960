/**
 * Stowage as a real process (`node dist/main.js --config FILE`), for what an in-process app cannot
 * show: a SIGKILL in the middle of work, and what the next process on the same data directory makes
 * of it. Compiled once per test worker into `.test-dist/` (inside the repository, so the build
 * resolves node_modules as `npm start` does).
 */
import { execFile } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { answersHttp, freePort, startDaemon, tempDir, type Daemon } from './processes.js';

const ROOT = resolve(import.meta.dirname, '../..');
let built: Promise<string> | null = null;

/** The directory holding the compiled `main.js`; removed when the worker exits. */
export function buildStowage(): Promise<string> {
  built ??= (async () => {
    const out = join(ROOT, '.test-dist', `stowage-${process.pid}`);
    process.once('exit', () => void rm(out, { recursive: true, force: true }));
    await promisify(execFile)(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', out], {
      timeout: 120_000,
    });
    return out;
  })();
  return built;
}

export interface StowageProcess {
  url: string;
  daemon: Daemon;
  /** SIGKILL: no drain, no clean-up, whatever was in flight stays as it was. */
  crash(): Promise<void>;
  /** SIGTERM (a graceful stop), then removes the config file. */
  stop(): Promise<void>;
}

/**
 * Starts Stowage on `dataDir` with `config` (the YAML file's shape, as JSON — YAML is a superset),
 * listening on a free loopback port; ready once `/v2/` answers.
 */
export async function startStowageProcess(dataDir: string, config: Record<string, unknown>, options: { port?: number } = {}): Promise<StowageProcess> {
  const dist = await buildStowage();
  const port = options.port ?? (await freePort());
  const dir = await tempDir('stowage-config');
  const file = join(dir.path, 'stowage.yaml');
  await writeFile(file, JSON.stringify({ ...config, server: { host: '127.0.0.1', port }, storage: { ...(config.storage as object), path: dataDir } }));
  const url = `http://127.0.0.1:${port}`;
  const daemon = await startDaemon({
    name: 'stowage',
    command: process.execPath,
    args: ['--max-semi-space-size=4', join(dist, 'main.js'), '--config', file],
    env: { PATH: process.env.PATH },
    ready: () => answersHttp(`${url}/v2/`).catch(() => false),
    readyTimeoutMs: 20_000,
  });
  return {
    url,
    daemon,
    crash: () => daemon.crash(),
    stop: async () => {
      await daemon.stop();
      await dir.remove();
    },
  };
}
