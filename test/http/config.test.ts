/**
 * Configuration as an operator writes it: defaults, the YAML file, `${VAR}` expansion, environment
 * overrides (`STOWAGE_*`, plus `PORT` and `STORAGE_ROOT`), `_FILE` secrets, sizes and durations, and
 * errors that name the offending key. Ends with a server started from environment settings.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';

let dir: string;
let counter = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stowage-config-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function yamlFile(text: string): Promise<string> {
  const path = join(dir, `config-${counter++}.yaml`);
  await writeFile(path, text);
  return path;
}

const load = (env: Record<string, string> = {}, file: string | null = null): ReturnType<typeof loadConfig> => loadConfig({ env, file });

/** The ConfigError thrown by `fn`; fails the test if it throws anything else or nothing. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('defaults', () => {
  it('loads without a file or environment', () => {
    const config = load();
    expect(config.server).toMatchObject({ host: '0.0.0.0', port: 5000, tls: null });
    expect(config.storage.path).toBe('./data');
    expect(config.limits).toEqual({ manifestMaxBytes: 4 * 1024 * 1024, blobMaxBytes: 0, uploadSessionTtl: 24 * 3_600_000 });
    expect(config.defaultUpstream).toBe('docker.io');
    expect(config.upstreams['docker.io']!.url).toBe('https://registry-1.docker.io');
  });
});

describe('environment overrides', () => {
  it('STOWAGE_SERVER_PORT, PORT and their precedence', () => {
    expect(load({ STOWAGE_SERVER_PORT: '8080' }).server.port).toBe(8080);
    expect(load({ PORT: '9090' }).server.port).toBe(9090);
    expect(load({ PORT: '9090', STOWAGE_SERVER_PORT: '8080' }).server.port).toBe(8080);
  });

  it('STORAGE_ROOT and STOWAGE_STORAGE_PATH', () => {
    expect(load({ STORAGE_ROOT: '/srv/stowage' }).storage.path).toBe('/srv/stowage');
    expect(load({ STORAGE_ROOT: '/srv/a', STOWAGE_STORAGE_PATH: '/srv/b' }).storage.path).toBe('/srv/b');
  });

  it('the environment wins over the file, and overrides win over the environment', async () => {
    const file = await yamlFile('server:\n  port: 7000\nstorage:\n  path: /from/file\n');
    expect(load({}, file).server.port).toBe(7000);
    expect(load({ STOWAGE_SERVER_PORT: '7001' }, file).server.port).toBe(7001);
    expect(load({ PORT: '7002' }, file).server.port).toBe(7002);
    expect(loadConfig({ env: { STOWAGE_SERVER_PORT: '7001' }, file, overrides: { server: { port: 7003 } } }).server.port).toBe(7003);
    expect(load({}, file).storage.path).toBe('/from/file');
  });

  it('every kind of key: camelCase names become SNAKE_CASE', () => {
    const config = load({
      STOWAGE_SERVER_DRAIN_TIMEOUT: '45s',
      STOWAGE_SERVER_TRUST_PROXY: 'yes',
      STOWAGE_STORAGE_MAX_SIZE: '50GiB',
      STOWAGE_LOG_LEVEL: 'debug',
      STOWAGE_HOSTED: 'team/**, infra/*',
      STOWAGE_LIMITS_MANIFEST_MAX_BYTES: '8MiB',
      STOWAGE_LIMITS_BLOB_MAX_BYTES: '10GB',
      STOWAGE_LIMITS_UPLOAD_SESSION_TTL: '2h',
      STOWAGE_METRICS_ENABLED: 'off',
      STOWAGE_METRICS_LISTEN: '127.0.0.1:9090',
    });
    expect(config.server.drainTimeout).toBe(45_000);
    expect(config.server.trustProxy).toBe(true);
    expect(config.storage.maxSize).toBe(50 * 1024 ** 3);
    expect(config.log.level).toBe('debug');
    expect(config.hosted).toEqual(['team/**', 'infra/*']);
    expect(config.limits).toEqual({ manifestMaxBytes: 8 * 1024 ** 2, blobMaxBytes: 10e9, uploadSessionTtl: 2 * 3_600_000 });
    expect(config.metrics).toEqual({ enabled: false, listen: '127.0.0.1:9090', auth: false });
  });

  it('an empty STOWAGE_DEFAULT_UPSTREAM disables the default upstream', () => {
    expect(load({ STOWAGE_DEFAULT_UPSTREAM: '' }).defaultUpstream).toBeNull();
  });

  it('per-upstream settings: STOWAGE_UPSTREAMS_<HOST>_<KEY>', async () => {
    const file = await yamlFile('upstreams:\n  ghcr.io:\n    url: https://ghcr.io\n');
    const config = load({ STOWAGE_UPSTREAMS_GHCR_IO_TAG_TTL: '10m', STOWAGE_UPSTREAMS_GHCR_IO_CONCURRENCY: '4', STOWAGE_DEFAULT_UPSTREAM: 'ghcr.io' }, file);
    expect(config.upstreams['ghcr.io']).toMatchObject({ url: 'https://ghcr.io', tagTtl: 600_000, concurrency: 4 });
  });
});

describe('secrets from files (_FILE)', () => {
  it('reads the value from the named file, without the trailing newline', async () => {
    const secret = join(dir, 'password');
    await writeFile(secret, 's3cr3t: with # chars\n');
    const file = await yamlFile('upstreams:\n  docker.io:\n    url: https://registry-1.docker.io\n    username: robot\n');
    const config = load({ STOWAGE_UPSTREAMS_DOCKER_IO_PASSWORD_FILE: secret }, file);
    expect(config.upstreams['docker.io']).toMatchObject({ username: 'robot', password: 's3cr3t: with # chars' });
  });

  it('works for any key, and the plain variable wins over _FILE', async () => {
    const portFile = join(dir, 'port');
    await writeFile(portFile, '6000\n');
    expect(load({ STOWAGE_SERVER_PORT_FILE: portFile }).server.port).toBe(6000);
    expect(load({ STOWAGE_SERVER_PORT_FILE: portFile, STOWAGE_SERVER_PORT: '6001' }).server.port).toBe(6001);
  });

  it('a _FILE that cannot be read is a ConfigError naming the variable', () => {
    const error = configError(() => load({ STOWAGE_SERVER_PORT_FILE: join(dir, 'does-not-exist') }));
    expect(error.message).toContain('STOWAGE_SERVER_PORT_FILE');
  });
});

describe('${VAR} expansion in the file', () => {
  it('replaces variables, with :- defaults', async () => {
    const file = await yamlFile('server:\n  port: ${APP_PORT}\n  host: ${APP_HOST:-127.0.0.1}\nstorage:\n  path: ${ROOT}/stowage\n');
    const config = load({ APP_PORT: '8443', ROOT: '/var/lib' }, file);
    expect(config.server.port).toBe(8443);
    expect(config.server.host).toBe('127.0.0.1');
    expect(config.storage.path).toBe('/var/lib/stowage');
  });

  it('an unset variable without a default is a ConfigError naming it', async () => {
    const file = await yamlFile('storage:\n  path: ${NOT_SET_ANYWHERE}\n');
    expect(configError(() => load({}, file)).message).toContain('NOT_SET_ANYWHERE');
  });

  it('values are inserted as data: YAML syntax inside a value stays in the value', async () => {
    const file = await yamlFile('upstreams:\n  docker.io:\n    url: https://registry-1.docker.io\n    username: robot\n    password: ${PASSWORD}\n');
    const password = 'p#ss: word\n  url: https://evil.example';
    expect(load({ PASSWORD: password }, file).upstreams['docker.io']).toMatchObject({ password, url: 'https://registry-1.docker.io' });
  });

  it('variables in comments are not expanded', async () => {
    const file = await yamlFile('# storage: ${UNSET_IN_COMMENT}\nserver:\n  port: 5001\n');
    expect(load({}, file).server.port).toBe(5001);
  });
});

describe('sizes and durations', () => {
  it.each([
    ['4MiB', 4 * 1024 ** 2],
    ['4 MiB', 4 * 1024 ** 2],
    ['1.5GB', 1.5e9],
    ['10k', 10 * 1024],
    ['10kb', 10_000],
    ['2g', 2 * 1024 ** 3],
    ['512', 512],
    [1024, 1024],
  ])('size %j is %i bytes', (value, bytes) => {
    expect(loadConfig({ env: {}, file: null, overrides: { limits: { blobMaxBytes: value } } }).limits.blobMaxBytes).toBe(bytes);
  });

  it.each([
    ['500ms', 500],
    ['1.5s', 1500],
    ['5m', 300_000],
    ['24h', 86_400_000],
    ['7d', 7 * 86_400_000],
    ['30', 30_000],
    [30, 30_000],
  ])('duration %j is %i ms', (value, ms) => {
    expect(loadConfig({ env: {}, file: null, overrides: { server: { drainTimeout: value } } }).server.drainTimeout).toBe(ms);
  });
});

describe('invalid values name the key', () => {
  it.each([
    [{ STOWAGE_SERVER_PORT: 'http' }, 'server.port'],
    [{ STOWAGE_SERVER_PORT: '70000' }, 'server.port'],
    [{ STOWAGE_SERVER_PORT: '-1' }, 'server.port'],
    [{ STOWAGE_SERVER_PORT: '' }, 'server.port'],
    [{ STOWAGE_SERVER_PORT: '0x50' }, 'server.port'],
    [{ PORT: '80.5' }, 'server.port'],
    [{ STOWAGE_LIMITS_MANIFEST_MAX_BYTES: 'lots' }, 'limits.manifestMaxBytes'],
    [{ STOWAGE_LIMITS_BLOB_MAX_BYTES: '5 parsecs' }, 'limits.blobMaxBytes'],
    [{ STOWAGE_SERVER_DRAIN_TIMEOUT: '3 fortnights' }, 'server.drainTimeout'],
    [{ STOWAGE_SERVER_TRUST_PROXY: 'maybe' }, 'server.trustProxy'],
    [{ STOWAGE_LOG_LEVEL: 'loud' }, 'log.level'],
    [{ STOWAGE_STORAGE_PATH: '' }, 'storage.path'],
    [{ STOWAGE_DEFAULT_UPSTREAM: 'quay.io' }, 'defaultUpstream'],
    [{ STOWAGE_HOSTED: 'Team/**' }, 'hosted'],
    [{ STOWAGE_LIMITS_UPLOAD_SESSION_TTL: '0' }, 'limits.uploadSessionTtl'],
    [{ STOWAGE_LIMITS_MANIFEST_MAX_BYTES: '0' }, 'limits.manifestMaxBytes'],
  ])('%j names %s', (env, key) => {
    const error = configError(() => load(env as Record<string, string>));
    expect(error.message).toContain(key);
  });

  it('a TLS certificate without a key', () => {
    expect(configError(() => load({ STOWAGE_SERVER_TLS_CERT: '/etc/cert.pem' })).message).toContain('server.tls');
  });

  it('an upstream without a valid URL, or with an invalid name', async () => {
    expect(configError(() => loadConfig({ env: {}, file: null, overrides: { upstreams: { 'docker.io': { url: 'ftp://x' } } } })).message).toContain('upstreams.docker.io.url');
    expect(configError(() => loadConfig({ env: {}, file: null, overrides: { upstreams: { 'Docker.IO': { url: 'https://x' } }, defaultUpstream: null } })).message).toContain('upstreams.Docker.IO');
  });

  it('a file that is not YAML, or cannot be read', async () => {
    const file = await yamlFile('server: [unclosed\n');
    expect(configError(() => load({}, file)).message).toMatch(/not valid YAML/);
    expect(configError(() => load({}, join(dir, 'missing.yaml'))).message).toContain('missing.yaml');
  });
});

describe('unknown keys are rejected', () => {
  it.each([
    ['serevr:\n  port: 1\n', 'serevr'],
    ['server:\n  prot: 1\n', 'server.prot'],
    ['limits:\n  manifestMaxByte: 1\n', 'limits.manifestMaxByte'],
    ['upstreams:\n  docker.io:\n    url: https://registry-1.docker.io\n    pasword: x\n', 'upstreams.docker.io.pasword'],
  ])('%j names %s', async (text, key) => {
    const file = await yamlFile(text);
    const error = configError(() => load({}, file));
    expect(error.message).toContain(key);
    expect(error.message).toMatch(/unknown key/);
  });

  it('a section left empty (every line commented out) is not an unknown key', async () => {
    const file = await yamlFile('server:\n  # port: 5000\nlimits:\nstorage:\n  path: /data\n');
    const config = load({}, file);
    expect(config.server.port).toBe(5000);
    expect(config.storage.path).toBe('/data');
  });
});

describe('a server configured from the environment', () => {
  it('listens where STOWAGE_SERVER_HOST and PORT say and stores under STORAGE_ROOT', async () => {
    const root = await mkdtemp(join(dir, 'root-'));
    const config = loadConfig({
      file: null,
      env: { STOWAGE_SERVER_HOST: '127.0.0.1', PORT: '0', STORAGE_ROOT: root, STOWAGE_HOSTED: '**', STOWAGE_DEFAULT_UPSTREAM: '', STOWAGE_LOG_LEVEL: 'silent' },
    });
    const app = await buildApp(config, { logger: pino({ level: 'silent' }) });
    try {
      await app.server.listen({ host: config.server.host, port: config.server.port });
      const address = app.server.server.address();
      if (address === null || typeof address === 'string') throw new Error('no address');
      expect(address.address).toBe('127.0.0.1');
      const base = `http://127.0.0.1:${address.port}`;
      const bytes = Buffer.from('configured');
      const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      const res = await fetch(`${base}/v2/env/repo/blobs/uploads/?digest=${digest}`, { method: 'POST', body: bytes, headers: { Connection: 'close' } });
      expect(res.status).toBe(201);
      expect(await readdir(join(root, 'blobs', 'sha256'))).toEqual([digest.slice(7, 9)]);
    } finally {
      await app.server.close();
      await app.close();
    }
  });
});
