/**
 * The CNCF reference registry (Debian's `docker-registry`, distribution 2.8) as a real process on
 * 127.0.0.1: the upstream in integration tests and the comparison subject in benchmarks.
 *
 * No auth, filesystem storage in a temp directory, deletes enabled. With `proxy` it runs as a
 * read-only pull-through cache of `remoteurl` (distribution's proxy mode rejects pushes).
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { answersHttp, freePort, startDaemon, tempDir } from './processes.js';

export const REFERENCE_REGISTRY_BINARY = process.env.STOWAGE_REFERENCE_REGISTRY ?? '/usr/bin/docker-registry';

export interface ReferenceRegistryOptions {
  proxy?: { remoteurl: string; username?: string; password?: string };
  /** Readiness bound; default 15 s. */
  readyTimeoutMs?: number;
}

export interface ReferenceRegistry {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT`, for image references (`HOST/team/app:tag`). */
  host: string;
  pid: number;
  /** The storage root (blobs and repositories, distribution's layout). */
  dataDir: string;
  logTail(lines?: number): string;
  /** Stops the process (SIGTERM, then SIGKILL) and removes its directory. Idempotent. */
  close(): Promise<void>;
}

/** Environment without `REGISTRY_*`, which distribution reads as config overrides. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('REGISTRY_')));
}

export async function startReferenceRegistry(options: ReferenceRegistryOptions = {}): Promise<ReferenceRegistry> {
  const dir = await tempDir('reference-registry');
  const dataDir = join(dir.path, 'data');
  const configFile = join(dir.path, 'config.yml');
  // Retry once on the small race between freePort() releasing the port and the registry binding it.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    const config = {
      version: 0.1,
      log: { level: 'warn', formatter: 'text', accesslog: { disabled: true } },
      storage: {
        filesystem: { rootdirectory: dataDir },
        delete: { enabled: true },
        maintenance: { uploadpurging: { enabled: false } },
      },
      http: { addr: host, secret: randomBytes(16).toString('hex'), headers: { 'X-Content-Type-Options': ['nosniff'] } },
      health: { storagedriver: { enabled: false } },
      ...(options.proxy ? { proxy: options.proxy } : {}),
    };
    // YAML is a superset of JSON, so the config needs no YAML serialiser.
    await writeFile(configFile, JSON.stringify(config, null, 2));
    try {
      const daemon = await startDaemon({
        name: 'docker-registry',
        command: REFERENCE_REGISTRY_BINARY,
        args: ['serve', configFile],
        env: cleanEnv(),
        logFile: join(dir.path, 'registry.log'),
        readyTimeoutMs: options.readyTimeoutMs ?? 15_000,
        ready: () => answersHttp(`http://${host}/v2/`, (status) => status === 200),
      });
      let closing: Promise<void> | undefined;
      return {
        url: `http://${host}`,
        host,
        pid: daemon.pid,
        dataDir,
        logTail: daemon.logTail,
        close: () => (closing ??= daemon.stop().finally(() => dir.remove())),
      };
    } catch (error) {
      const portTaken = /address already in use/.test((error as Error).message);
      if (!portTaken || attempt >= 3) {
        await dir.remove();
        throw error;
      }
    }
  }
}
