/**
 * The `cluster` section as an operator writes it: what is required, what is refused with a message
 * naming the key, and secrets from the environment or a file.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { configErrorOf } from '../support/config-error.js';

const CLUSTER = { redis: 'redis://127.0.0.1:6379', advertiseUrl: 'http://10.0.0.5:5000/', secret: 'a-secret-of-some-length' };
const load = (cluster: Record<string, unknown> | undefined, env: Record<string, string> = {}, extra: Record<string, unknown> = {}) =>
  loadConfig({ env, file: null, overrides: { ...(cluster ? { cluster } : {}), ...extra } });

const message = configErrorOf;

describe('cluster configuration', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stowage-cluster-config-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('is off by default; when on, advertiseUrl is normalised and claimTtl defaults to 10 s', () => {
    expect(load(undefined).cluster).toBeNull();
    expect(load(CLUSTER).cluster).toEqual({ ...CLUSTER, advertiseUrl: 'http://10.0.0.5:5000', claimTtl: 10_000 });
    expect(load({ ...CLUSTER, redis: 'rediss://user:pw@redis.internal:6380/2', claimTtl: '30s' }).cluster?.claimTtl).toBe(30_000);
  });

  it('refuses what cannot work, naming the key', () => {
    expect(message(() => load({ advertiseUrl: CLUSTER.advertiseUrl, secret: CLUSTER.secret }))).toContain('cluster.redis');
    expect(message(() => load({ ...CLUSTER, redis: 'http://127.0.0.1:6379' }))).toContain('cluster.redis: expected a redis:// or rediss:// URL');
    expect(message(() => load({ ...CLUSTER, advertiseUrl: undefined }))).toContain('cluster.advertiseUrl');
    expect(message(() => load({ ...CLUSTER, advertiseUrl: '10.0.0.5:5000' }))).toContain('cluster.advertiseUrl: expected an absolute http(s) URL');
    expect(message(() => load({ ...CLUSTER, secret: 'short' }))).toContain('cluster.secret: expected at least 16 characters');
    expect(message(() => load({ ...CLUSTER, claimTtl: '100ms' }))).toContain('cluster.claimTtl');
    expect(message(() => load({ ...CLUSTER, peers: [] }))).toContain('cluster.peers: unknown key');
  });

  it('a password in the Redis URL never shows in an error', () => {
    const text = message(() => load({ ...CLUSTER, redis: 'redis-with-typo://user:hunter2-password@redis:6379' }));
    expect(text).not.toContain('hunter2');
  });

  it('comes from the environment, the secret from a file', async () => {
    const secretFile = join(dir, 'secret');
    await writeFile(secretFile, 'from-a-mounted-secret-file\n');
    const config = load(undefined, {
      STOWAGE_CLUSTER_REDIS: 'redis://redis:6379',
      STOWAGE_CLUSTER_ADVERTISE_URL: 'http://10.1.2.3:5000',
      STOWAGE_CLUSTER_SECRET_FILE: secretFile,
    });
    expect(config.cluster).toMatchObject({ redis: 'redis://redis:6379', advertiseUrl: 'http://10.1.2.3:5000', secret: 'from-a-mounted-secret-file' });
  });

  it('Bearer mode in a cluster needs one signing key for all replicas', () => {
    const auth = { htpasswd: '/etc/stowage/htpasswd', token: {} };
    expect(message(() => load(CLUSTER, {}, { auth }))).toContain('auth.token.signingKey: required with cluster');
    expect(load(CLUSTER, {}, { auth: { ...auth, token: { signingKey: '/etc/stowage/token-key.pem' } } }).auth?.token?.signingKey).toBe('/etc/stowage/token-key.pem');
  });
});
