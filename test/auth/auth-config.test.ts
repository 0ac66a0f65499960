/**
 * The `auth` keys as an operator writes them: validation errors that name the key, and the
 * environment overrides and `_FILE` secrets every key gets from the schema.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load-config.js';
import { tempDir } from '../support/processes.js';
import { configErrorOf } from '../support/config-error.js';

let work: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  work = await tempDir('auth-config');
});
afterAll(() => work?.remove());

const load = (overrides: Record<string, unknown>, env: Record<string, string> = {}) => loadConfig({ env, file: null, overrides });
const errorOf = configErrorOf;

describe('auth configuration', () => {
  it('no auth section: null (open mode)', () => {
    expect(load({}).auth).toBeNull();
    expect(load({}).metrics.auth).toBe(false);
  });

  it('defaults: realm Stowage, no token section (Basic mode), no rules', () => {
    expect(load({ auth: { htpasswd: '/etc/stowage/htpasswd' } }).auth).toEqual({
      realm: 'Stowage', htpasswd: '/etc/stowage/htpasswd', token: null, admins: [], access: [],
    });
    expect(load({ auth: { htpasswd: 'h', token: {} } }).auth!.token).toEqual({ issuer: 'stowage', ttl: 15 * 60_000, trust: null });
  });

  it('errors name the key', () => {
    expect(errorOf(() => load({ auth: { realm: 'x' } }))).toMatch(/^config: auth\.htpasswd: expected the path of an htpasswd file/);
    expect(errorOf(() => load({ auth: { htpasswd: 'h', access: [{ repos: ['team/**'], users: ['a'], actions: ['write'] }] } }))).toMatch(/^config: auth\.access\[0\]\.actions: expected a list of actions/);
    expect(errorOf(() => load({ auth: { htpasswd: 'h', access: [{ repos: ['team/**'], users: [], actions: ['pull'] }] } }))).toMatch(/^config: auth\.access\[0\]\.users: expected at least one entry/);
    expect(errorOf(() => load({ auth: { htpasswd: 'h', access: [{ repos: ['Team/**'], users: ['a'], actions: ['pull'] }] } }))).toMatch(/^config: auth\.access\[0\]\.repos/);
    expect(errorOf(() => load({ auth: { htpasswd: 'h', token: { ttl: '30s' } } }))).toMatch(/^config: auth\.token\.ttl/);
    expect(errorOf(() => load({ auth: { htpasswd: 'h', realm: 'a"b' } }))).toMatch(/^config: auth\.realm: must not contain quotes/);
    expect(errorOf(() => load({ auth: { token: { trust: { issuer: 'i', realm: 'https://auth.example.com/token' } } } }))).toMatch(/^config: auth\.token\.trust\.keys/);
    expect(errorOf(() => load({ metrics: { auth: true } }))).toMatch(/^config: metrics\.auth: needs auth\.htpasswd/);
    expect(errorOf(() => load({ server: { publicUrl: 'registry.example.com' } }))).toMatch(/^config: server\.publicUrl: expected an absolute http\(s\) URL/);
  });

  it('an external token server needs no htpasswd', () => {
    const auth = load({ auth: { token: { trust: { issuer: 'corp', realm: 'https://auth.example.com/token', keys: ['/k.pem'] } } } }).auth!;
    expect(auth.token!.trust).toEqual({ issuer: 'corp', realm: 'https://auth.example.com/token', keys: ['/k.pem'] });
  });

  it('every auth key works through the environment, the rules as YAML, and _FILE reads a value from a file', async () => {
    const rules = join(work.path, 'rules.yaml');
    await writeFile(rules, '- repos: ["team/**"]\n  users: [alice]\n  actions: [pull, push]\n- repos: ["docker.io/**"]\n  users: [anonymous]\n  actions: [pull]\n');
    const config = load({}, {
      STOWAGE_AUTH_HTPASSWD: '/run/secrets/htpasswd',
      STOWAGE_AUTH_ADMINS: 'root,ops',
      STOWAGE_AUTH_ACCESS_FILE: rules,
      STOWAGE_AUTH_TOKEN_TTL: '1h',
      STOWAGE_AUTH_TOKEN_ISSUER: 'registry.example.com',
      STOWAGE_SERVER_PUBLIC_URL: 'https://registry.example.com/',
      STOWAGE_METRICS_AUTH: 'true',
    });
    expect(config.auth).toMatchObject({
      htpasswd: '/run/secrets/htpasswd',
      admins: ['root', 'ops'],
      access: [
        { repos: ['team/**'], users: ['alice'], actions: ['pull', 'push'] },
        { repos: ['docker.io/**'], users: ['anonymous'], actions: ['pull'] },
      ],
      token: { ttl: 3_600_000, issuer: 'registry.example.com' },
    });
    expect(config.server.publicUrl).toBe('https://registry.example.com');
    expect(config.metrics.auth).toBe(true);
  });
});

describe('start-up warnings', () => {
  /** The warn-level messages logged while building an app with `config` (nothing listens). */
  async function warningsFor(overrides: Record<string, unknown>): Promise<string[]> {
    const messages: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => messages.push((JSON.parse(line) as { msg: string }).msg) });
    const dataDir = join(work.path, `data-${messages.length}-${Math.random().toString(36).slice(2)}`);
    const app = await buildApp(loadConfig({ env: {}, file: null, overrides: { upstreams: {}, defaultUpstream: null, storage: { path: dataDir }, ...overrides } }), { logger });
    await app.close();
    return messages;
  }

  it('an open registry with hosted repositories on a non-loopback listener says anyone may push', async () => {
    expect((await warningsFor({ server: { host: '0.0.0.0' } })).some((m) => /no auth section: anyone .* can push/.test(m))).toBe(true);
    expect(await warningsFor({ server: { host: '127.0.0.1' } })).toEqual([]);
    expect(await warningsFor({ server: { host: '0.0.0.0' }, hosted: [] })).toEqual([]);
  });

  it('auth on plain HTTP on a non-loopback listener says passwords travel in clear text (not behind an https publicUrl)', async () => {
    const htpasswd = join(work.path, 'empty-htpasswd');
    await writeFile(htpasswd, '');
    const auth = { htpasswd };
    expect((await warningsFor({ server: { host: '0.0.0.0' }, auth })).some((m) => /clear text/.test(m))).toBe(true);
    expect((await warningsFor({ server: { host: '0.0.0.0', publicUrl: 'https://registry.example.com' }, auth })).some((m) => /clear text/.test(m))).toBe(false);
    expect((await warningsFor({ server: { host: '127.0.0.1' }, auth })).some((m) => /clear text/.test(m))).toBe(false);
  });
});
