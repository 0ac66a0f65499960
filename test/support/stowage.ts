import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import pino from 'pino';
import { inject } from 'vitest';
import { buildApp, type App, type AppOptions } from '../../src/app.js';
import type { Config } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createTestBucket, type TestBucket } from './s3-test-bucket.js';

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> | T[K] : T[K] };

export interface RunningStowage {
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT, as clients name the registry. */
  host: string;
  dataDir: string;
  app: App;
  config: Config;
  close(): Promise<void>;
}

/**
 * A real Stowage listening on a random loopback port with a temporary data directory. By default
 * every repository is hosted and no upstream is configured; pass `config` to change that (values in
 * the YAML shape: '5m', '4MiB' and plain numbers are accepted).
 * In the `s3` test project (vitest.config.ts) a Stowage whose config names no storage driver runs
 * on the s3 driver instead, on a bucket named after its data directory: a restart on the same
 * directory finds the same bucket.
 */
export async function startStowage(
  options: { config?: Record<string, unknown>; dataDir?: string; app?: AppOptions; /** Default: a random free one. */ port?: number } = {},
): Promise<RunningStowage> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'stowage-test-')));
  const storage: Record<string, unknown> = { ...(options.config?.storage as Record<string, unknown> | undefined), path: dataDir };
  const store = inject('s3Store');
  let bucket: TestBucket | null = null;
  if (store && storage.driver === undefined) {
    bucket = await createTestBucket(store, `stowage-${createHash('sha256').update(dataDir).digest('hex').slice(0, 20)}`, { prefix: 'registry/' });
    Object.assign(storage, { driver: 's3', s3: { ...bucket.settings, ...(storage.s3 as object | undefined) } });
  }
  const config = loadConfig({
    env: {},
    file: null,
    overrides: {
      server: { host: '127.0.0.1', port: 0 },
      log: { level: process.env.STOWAGE_TEST_LOG ?? 'silent' },
      hosted: ['**'],
      upstreams: {},
      defaultUpstream: null,
      ...options.config,
      // Always the temp data dir, whatever else a test sets in `storage`.
      storage,
    },
  });
  const app = await buildApp(config, { logger: pino({ level: config.log.level }), upstreamRetry: { baseDelayMs: 5, maxDelayMs: 20 }, ...options.app });
  await app.server.listen({ host: '127.0.0.1', port: options.port ?? 0 });
  const address = app.server.server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  const host = `127.0.0.1:${address.port}`;
  return {
    url: `http://${host}`,
    host,
    dataDir,
    app,
    config,
    async close() {
      await app.shutdown();
      if (options.dataDir === undefined) {
        await rm(dataDir, { recursive: true, force: true });
        await bucket?.remove();
      }
    },
  };
}
